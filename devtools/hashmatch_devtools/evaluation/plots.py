"""The report's PNG plots: recall per transformation, recall against false matches, the PDQ
improvements."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashmatch_devtools.evaluation.analysis import Evaluation
from hashmatch_devtools.evaluation.curves import default_threshold
from hashmatch_devtools.evaluation.hashing import EVALUATED_TYPES


def write_plots(evaluation: Evaluation, out: Path) -> dict[str, str]:
    """PNG plots in ``out``; returns their file names by role."""
    # Imported here: only the report needs matplotlib, and importing it is slow.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(evaluation.transformations)
    curves = evaluation.curves
    files: dict[str, str] = {}

    figure, axis = plt.subplots(figsize=(9, 0.32 * len(names) + 1.5))
    positions = np.arange(len(names))
    height = 0.8 / len(EVALUATED_TYPES)
    for offset, method in enumerate(EVALUATED_TYPES):
        threshold = default_threshold(method)
        axis.barh(
            positions + offset * height,
            100 * curves[method].recall_per_transformation(threshold),
            height=height,
            label=f"{method} <= {threshold}",
        )
    axis.set_yticks(positions + height, names)
    axis.invert_yaxis()
    axis.set_xlabel("recall (%) at the default threshold")
    axis.set_xlim(0, 100)
    # Below the axis: inside the axes it would hide the last rows.
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05), ncol=len(EVALUATED_TYPES))
    axis.set_title("Modified copies found, per transformation")
    figure.tight_layout()
    files["recall_per_transformation"] = "recall_per_transformation.png"
    figure.savefig(out / files["recall_per_transformation"], dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 5))
    for method in (*EVALUATED_TYPES, "pdq+dihedral", "pdq+rotations", "pdq+rotations+trim"):
        curve = curves[method]
        rates = [curve.query_false_match_rate(t) for t in curve.thresholds.tolist()]
        recalls = [100 * curve.recall(t) for t in curve.thresholds.tolist()]
        style = "--" if "+" in method else "-"
        (line,) = axis.plot(rates, recalls, style, label=method)
        default = default_threshold(method)
        axis.plot(
            [curve.query_false_match_rate(default)],
            [100 * curve.recall(default)],
            "o",
            color=line.get_color(),
        )
    axis.set_xscale("symlog", linthresh=1e-7)
    axis.set_xlabel("false-match rate (copies vs other originals); dots: default thresholds")
    axis.set_ylabel("overall recall (%)")
    axis.set_title("Recall against false matches (thresholds swept)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    files["recall_vs_false_matches"] = "recall_vs_false_matches.png"
    figure.savefig(out / files["recall_vs_false_matches"], dpi=110)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(9, 0.32 * len(names) + 1.5))
    shown = [
        ("pdq", "pdq"),
        ("pdq+dihedral", "pdq + one-pass dihedral"),
        ("pdq+rotations", "pdq + 8 rotated images"),
        ("pdq+trim", "pdq + trimmed query"),
        ("pdq+rotations+trim", "pdq + rotated images + trimmed"),
    ]
    height = 0.8 / len(shown)
    for offset, (method, label) in enumerate(shown):
        axis.barh(
            positions + offset * height,
            100 * curves[method].recall_per_transformation(default_threshold(method)),
            height=height,
            label=label,
        )
    axis.set_yticks(positions + height, names)
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("recall (%) at PDQ <= 31")
    axis.legend(loc="lower right")
    axis.set_title("PDQ improvements, per transformation")
    figure.tight_layout()
    files["improvements"] = "improvements.png"
    figure.savefig(out / files["improvements"], dpi=110)
    plt.close(figure)
    return files
