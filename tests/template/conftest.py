"""The SAM template, parsed and transformed into CloudFormation once per session."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.public.translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"


class _NoManagedPolicies(ManagedPolicyLoader):
    """The transform only needs managed-policy ARNs for names we do not use: answer offline."""

    def __init__(self) -> None:
        pass

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE_PATH.read_text())


@pytest.fixture(scope="session")
def cfn_template(sam_template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The CloudFormation the SAM transform produces (local code locations swapped for S3)."""
    template = copy.deepcopy(sam_template)
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = "s3://hashmatch-artifacts/code.zip"
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_DEFAULT_REGION", "eu-central-1")  # the transform needs a region
            yield transform(template, {}, _NoManagedPolicies())
    except InvalidDocumentException as error:  # pragma: no cover - shows why the template broke
        pytest.fail("; ".join(str(cause) for cause in error.causes))


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == type_name
    }
