"""Schema validation, offline: Kubernetes' own resources with kubernetes-validate --strict
at the oldest and newest Kubernetes the templates support (the custom resources are in
test_custom_resources.py); the SeldonDeployment, whose CRD no package ships, through its
pod spec (strict, as a Pod) and the fields Seldon reads; and a security scan with checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import CUSTOM, REPO, TEMPLATES, all_documents, venv_tool
from tests.k8s.manifests import validate_strictly

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
"""Oldest supported: 1.30, where preStop's `sleep` action is on by default (beta)."""
SELDON = "machinelearning.seldon.io/v1"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_resources_are_valid_strictly(
    rendered: dict[str, list[dict[str, Any]]], version: str, tmp_path: Path
) -> None:
    validate = venv_tool(
        "kubernetes-validate",
        "SERVEKIT_TEST_KUBERNETES_VALIDATE",
        "pip install kubernetes-validate",
    )
    core = [d for d in all_documents(rendered) if d["apiVersion"] not in CUSTOM | {SELDON}]
    for seldon in (d for d in all_documents(rendered) if d["apiVersion"] == SELDON):
        for predictor in seldon["spec"]["predictors"]:
            for component in predictor["componentSpecs"]:
                metadata = {
                    "name": f"{seldon['metadata']['name']}-pod",
                    **component.get("metadata", {}),
                }
                core.append(
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": metadata,
                        "spec": component["spec"],
                    }
                )
    kinds = {d["kind"] for d in core}
    assert kinds >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "ConfigMap",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "Pod",
    }
    validate_strictly(validate, version, core, tmp_path)


def test_the_strict_validation_can_fail(tmp_path: Path) -> None:
    validate = venv_tool(
        "kubernetes-validate",
        "SERVEKIT_TEST_KUBERNETES_VALIDATE",
        "pip install kubernetes-validate",
    )
    deployment = yaml.safe_load((TEMPLATES / "base" / "deployment.yaml").read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"][
        "second"
    ] = 5
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(deployment), encoding="utf-8")
    done = subprocess.run(
        [validate, "--strict", "--quiet", "-k", KUBERNETES_VERSIONS[0], str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "second" in done.stdout + done.stderr


def test_the_seldon_deployment_is_what_seldon_core_reads(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (seldon,) = [d for d in rendered["overlay:seldon"] if d["kind"] == "SeldonDeployment"]
    assert seldon["apiVersion"] == SELDON
    assert seldon["spec"]["protocol"] == "seldon"
    config = next(d for d in rendered["overlay:seldon"] if d["kind"] == "ConfigMap")["data"]
    for predictor in seldon["spec"]["predictors"]:
        graph = predictor["graph"]
        containers = [
            c["name"] for s in predictor["componentSpecs"] for c in s["spec"]["containers"]
        ]
        assert graph["name"] in containers, (
            "Seldon binds the graph's unit to the container of its name"
        )
        assert graph["type"] == "MODEL"
        assert graph["endpoint"]["type"] == "REST"
        assert graph["endpoint"]["httpPort"] == int(config["SERVEKIT_PORT"])
        assert graph["children"] == []


@pytest.fixture(scope="session")
def checkov_report(rendered_files: Path) -> dict[str, Any]:
    """checkov run once a session over every rendered combination."""
    checkov = venv_tool(
        "checkov",
        "SERVEKIT_TEST_CHECKOV",
        "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov, then "
        "SERVEKIT_TEST_CHECKOV=.venv-checkov/bin/checkov",
        REPO / ".venv-checkov" / "bin" / "checkov",  # its own: its pins clash with pytest's
    )
    if not Path(checkov).is_absolute():
        checkov = str(REPO / checkov)
    done = subprocess.run(
        [
            checkov,
            "-d",
            str(rendered_files),
            "--config-file",
            str(TEMPLATES / "checkov.yaml"),
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip(), f"checkov printed nothing:\n{done.stderr}"
    report = json.loads(done.stdout)
    return report if isinstance(report, dict) else {"results": {}, "summary": report[0]["summary"]}


def test_checkov_finds_nothing_but_the_justified_skips(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}"
        for c in checkov_report["results"].get("failed_checks", [])
    ]
    assert failed == []
    assert summary["failed"] == 0
    assert summary["passed"] > 100
    for skipped in checkov_report["results"].get("skipped_checks", []):
        # The job worker's readiness; Secrets in the environment, with --secret-env only.
        assert skipped["check_id"] in ("CKV_K8S_9", "CKV_K8S_35"), skipped
        assert len(skipped["suppress_comment"]) > 40, "every skip says why"


def test_every_skipped_check_is_justified() -> None:
    lines = (TEMPLATES / "checkov.yaml").read_text(encoding="utf-8").splitlines()
    config = yaml.safe_load("\n".join(lines))
    assert config["skip-check"]
    for check in config["skip-check"]:
        index = lines.index(f"  - {check}")
        reason = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            reason.append(line)
        assert len(" ".join(reason)) > 80, f"{check} is skipped without a reason above it"
