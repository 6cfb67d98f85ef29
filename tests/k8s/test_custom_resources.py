"""The custom resources (KEDA, Traefik, Gateway API, Prometheus Operator), validated
offline and strictly by tests/k8s/validate_resources.mjs against the JSON schemas of the
@kubernetes-models npm packages: types, enums, patterns, required fields, and no field the
schema does not declare (but any key where the schema takes any: maps, free-form objects)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.conftest import CUSTOM, REPO, SCHEMAS_DIR, all_documents, tool

KINDS = {
    "ScaledObject",
    "IngressRoute",
    "Middleware",
    "TraefikService",
    "HTTPRoute",
    "ServiceMonitor",
    "PrometheusRule",
}
NOT_VALIDATED = {
    "gateway-api/gateway.networking.k8s.io/v1/GatewayClassSpec": ["description"],
    "gateway-api/gateway.networking.x-k8s.io/v1alpha1/MeshSpec": ["description"],
    "prometheus-operator/monitoring.coreos.com/v1alpha1/OpsGenieConfig": ["description"],
    "prometheus-operator/monitoring.coreos.com/v1alpha1/PagerDutyConfig": ["description"],
    "prometheus-operator/monitoring.coreos.com/v1beta1/OpsGenieConfig": ["description"],
    "prometheus-operator/monitoring.coreos.com/v1beta1/PagerDutyConfig": ["description"],
}
"""Fields the packages' typings declare and their compiled validators never check (their
generator drops a property named `description`): strict validation would reject them.
No kind of the templates contains these types."""


def run_validator(*arguments: str, documents: Any = None) -> Any:
    """Run tests/k8s/validate_resources.mjs (with the packages of tests/k8s/package.json)."""
    node = tool("node")
    if not (SCHEMAS_DIR / "node_modules" / "@kubernetes-models" / "keda").is_dir():
        pytest.fail(
            f"the CRD schemas are not installed in {SCHEMAS_DIR}: cp tests/k8s/package.json "
            f"tests/k8s/package-lock.json {SCHEMAS_DIR.relative_to(REPO)}/ && npm ci --prefix "
            f"{SCHEMAS_DIR.relative_to(REPO)} (scripts/test does)"
        )
    script = SCHEMAS_DIR / "validate_resources.mjs"  # imports resolve from its own folder
    shutil.copyfile(Path(__file__).with_name("validate_resources.mjs"), script)
    done = subprocess.run(
        [node, str(script), *arguments],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def validate_custom(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """{kind, name, error} of each document; error is None when it is valid."""
    results: list[dict[str, Any]] = run_validator(documents=documents)
    return results


def rendered_custom(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [d for d in all_documents(rendered) if d["apiVersion"] in CUSTOM]


def one(rendered: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    """A copy of the first rendered resource of kind."""
    return copy.deepcopy(next(d for d in rendered_custom(rendered) if d["kind"] == kind))


def test_custom_resources_match_their_crd_schemas(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    custom = rendered_custom(rendered)
    assert {d["kind"] for d in custom} == KINDS
    failures = [r for r in validate_custom(custom) if r["error"] is not None]
    assert failures == []


def test_the_crd_schemas_catch_mistakes() -> None:
    wrong = [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "a"},
            "spec": {"rules": [{"backendRefs": [{"name": "s", "port": 80, "weight": "90%"}]}]},
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "a"},
            "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "15 seconds"}]},
        },
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": "a"},
            "spec": {"scaleTargetRef": {"name": "w"}, "minReplicaCount": "one", "triggers": []},
        },
        {
            "apiVersion": "traefik.io/v1alpha1",
            "kind": "TraefikService",
            "metadata": {"name": "a"},
            "spec": {"weighted": {"services": [{"name": "s", "weight": "ten"}]}},
        },
    ]
    errors = [r["error"] for r in validate_custom(wrong)]
    fields = ["/weight ", "/interval ", "/minReplicaCount ", "/weight "]
    assert [f in (e or "") for e, f in zip(errors, fields, strict=True)] == [True] * 4, errors


def misspell(resource: dict[str, Any], path: str, wrong: str) -> None:
    """Rename the field at path (dotted; numbers index lists) to wrong, keeping its value."""
    *parents, last = path.split(".")
    node: Any = resource
    for step in parents:
        node = node[int(step)] if step.isdigit() else node[step]
    node[wrong] = node.pop(last)


@pytest.mark.parametrize(
    ("kind", "path", "wrong", "pointer"),
    [
        ("ScaledObject", "spec.minReplicaCount", "minReplicaCont", "/spec/minReplicaCont"),
        (
            "HTTPRoute",
            "spec.rules.0.backendRefs.0.weight",
            "wieght",
            "/spec/rules/0/backendRefs/0/wieght",
        ),
        ("HTTPRoute", "metadata.labels", "lables", "/metadata/lables"),
        ("ServiceMonitor", "spec.endpoints.0.interval", "intervall", "/spec/endpoints/0/intervall"),
        ("IngressRoute", "spec.entryPoints", "entrypoints", "/spec/entrypoints"),
    ],
)
def test_unknown_fields_are_rejected(
    rendered: dict[str, list[dict[str, Any]]], kind: str, path: str, wrong: str, pointer: str
) -> None:
    resource = one(rendered, kind)
    typo = copy.deepcopy(resource)
    misspell(typo, path, wrong)
    control, result = validate_custom([resource, typo])
    assert control["error"] is None
    assert result["error"] == f"data{pointer} is an unknown field (not in the schema)"


def test_fields_that_take_any_key_accept_any_key(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    scaled = one(rendered, "ScaledObject")
    scaled["metadata"]["labels"] = {"example.com/any": "x"}  # a map of strings
    scaled["metadata"]["annotations"] = {"anything": "y"}
    scaled["spec"]["triggers"][0]["metadata"]["notAKedaSetting"] = "z"  # a map of strings too
    plugin = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {"name": "p"},
        "spec": {"plugin": {"any-plugin": {"any": {"nested": ["config", {"x": 1}]}}}},
    }
    assert [r["error"] for r in validate_custom([scaled, plugin])] == [None, None]


def test_the_validators_read_every_field_their_typings_declare() -> None:
    """The premise of the strict check: a field the validator never reads is unknown."""
    audit = {r["type"]: r["missing"] for r in run_validator("--audit")}
    assert audit == NOT_VALIDATED
