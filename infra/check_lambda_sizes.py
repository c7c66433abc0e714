"""Fail the build when a function plus its layers exceeds Lambda's 250 MB unzipped limit.

Reads the template that `sam build` wrote (.aws-sam/build/template.yaml), where every CodeUri and
ContentUri points at a built folder, and prints each function's size with its layers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def layer_ids(function: dict[str, Any], globals_function: dict[str, Any]) -> list[str]:
    layers = function.get("Properties", {}).get("Layers") or globals_function.get("Layers") or []
    return [layer["Ref"] for layer in layers if isinstance(layer, dict) and "Ref" in layer]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("build_dir", type=Path, help="the folder sam build wrote (.aws-sam/build)")
    args = parser.parse_args(argv)
    template = yaml_parse((args.build_dir / "template.yaml").read_text())
    resources: dict[str, Any] = template["Resources"]
    globals_function = template.get("Globals", {}).get("Function", {})
    layer_sizes = {
        name: folder_size(args.build_dir / resource["Properties"]["ContentUri"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    }
    too_large = []
    print(f"{'function':32} {'code MB':>8} {'layers MB':>10} {'total MB':>9}  (limit 250)")
    for name, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        code = folder_size(args.build_dir / resource["Properties"]["CodeUri"])
        layers = sum(layer_sizes[layer] for layer in layer_ids(resource, globals_function))
        total = code + layers
        print(f"{name:32} {code / 2**20:8.2f} {layers / 2**20:10.2f} {total / 2**20:9.2f}")
        if total > LAMBDA_UNZIPPED_LIMIT:
            too_large.append(name)
    for name, size in sorted(layer_sizes.items()):
        print(f"layer {name:26} {size / 2**20:8.2f} MB")
    if too_large:
        print(f"over Lambda's 250 MB unzipped limit: {', '.join(too_large)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
