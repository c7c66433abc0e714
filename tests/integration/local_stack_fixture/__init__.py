"""A small SAM template and handlers that exercise every feature of the local stack."""

from pathlib import Path

FIXTURE_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
