"""Schema validation, offline: Kubernetes' own resources with kubernetes-validate --strict
at the oldest and newest Kubernetes the templates support (the custom resources are in
test_custom_resources.py); the SeldonDeployment, whose CRD no package ships, through its
pod spec (strict, as a Pod) and the fields Seldon reads; and a security scan with checkov."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.checkov_scan import problems, run_checkov
from tests.k8s.conftest import CUSTOM, TEMPLATES, all_documents, venv_tool
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


def test_checkov_finds_nothing_but_the_justified_skips(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    report = run_checkov(rendered, tmp_path)
    assert problems(report, rendered) == []
    assert report.passed > 100 * len(rendered)
    # The job workers' readiness; Secrets in the environment, with --secret-env only.
    assert {check for _, check, _ in report.skipped} == {"CKV_K8S_9", "CKV_K8S_35"}


def test_checkov_finds_a_skip_without_a_reason_one_too_many_and_one_lost(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The problems a scratch copy of the job workers' component shows checkov's test."""
    cases = {
        c: copy.deepcopy(rendered["component:async-workers"]) for c in ("bare", "extra", "lost")
    }

    def annotations(case: str, name: str) -> dict[str, str]:
        (found,) = [
            d for d in cases[case] if (d["kind"], d["metadata"]["name"]) == ("Deployment", name)
        ]
        annotations: dict[str, str] = found["metadata"].setdefault("annotations", {})
        return annotations

    annotations("bare", "servekit-worker")["checkov.io/skip1"] = "CKV_K8S_9"
    annotations("extra", "servekit")["checkov.io/skip9"] = "CKV_K8S_8=" + "a long reason " * 4
    del annotations("lost", "servekit-worker")["checkov.io/skip1"]
    report = run_checkov(cases, tmp_path)
    worker = "CKV_K8S_9 on Deployment.default.servekit-worker"
    expected = {
        "bare": [
            f"bare: {worker} is skipped for 'No comment provided', not the annotation's reason",
            f"bare: {worker} is skipped without a reason: ''",
        ],
        "extra": [
            "extra: CKV_K8S_8 on Deployment.default.servekit is skipped, a skip servekit does "
            "not make"
        ],
        "lost": [
            "lost: CKV_K8S_9 fails on Deployment.default.servekit-worker",
            f"lost: {worker} is not annotated to be skipped",
        ],
    }
    for case, found in expected.items():
        assert problems(report.of(case), {case: cases[case]}) == found


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
