"""checkov on rendered manifests, the one way the tests run it (with checkov.yaml, JSON
out, not --quiet: --quiet leaves the skipped checks out), and what its skips must be.

A check is skipped for one resource by a ``checkov.io/skipN: CHECK=reason`` annotation
on it; checkov reports the reason as the skip's ``check_result.suppress_comment`` ("No
comment provided" when the annotation has none). The skips the templates make, and the
only ones allowed (``expected_skips``): CKV_K8S_9 on the job workers' Deployments (no
readiness probe), CKV_K8S_35 where ``--secret-env`` puts Secrets in the environment.
A reason may not hold "=": checkov 3.3.30 then stops with a ValueError, printing nothing."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.conftest import REPO, TEMPLATES, venv_tool

Doc = dict[str, Any]
Skip = tuple[str, str, str]
"""(case, check id, resource as checkov names it: Kind.namespace.name)."""
SKIP_ANNOTATION = "checkov.io/skip"


@dataclass(frozen=True)
class Report:
    passed: int
    failed: list[Skip]
    skipped: dict[Skip, str]
    """Each skip's reason, checkov's suppress_comment."""

    def of(self, case: str) -> Report:
        """One case's results (the passed checks are the whole run's)."""
        return Report(
            self.passed,
            [f for f in self.failed if f[0] == case],
            {k: v for k, v in self.skipped.items() if k[0] == case},
        )


def run_checkov(cases: dict[str, list[Doc]], folder: Path) -> Report:
    """checkov, in one run, over each case's documents (written to a file in ``folder``)."""
    files = {f"{case.replace(':', '-').replace('/', '-')}.yaml": case for case in cases}
    for file, case in files.items():
        (folder / file).write_text(yaml.safe_dump_all(cases[case]), encoding="utf-8")
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
            str(folder),
            "--config-file",
            str(TEMPLATES / "checkov.yaml"),
            "--skip-download",
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
    if isinstance(report, list):  # one report a framework: kubernetes only here
        (report,) = report
    results = report.get("results", {})  # none when it found no resource

    def key(check: dict[str, Any]) -> Skip:
        return (files[check["file_path"].lstrip("/")], check["check_id"], check["resource"])

    return Report(
        report["summary"]["passed"],
        [key(c) for c in results.get("failed_checks", [])],
        {key(c): c["check_result"]["suppress_comment"] for c in results.get("skipped_checks", [])},
    )


def resource(document: Doc) -> str:
    metadata = document["metadata"]
    return f"{document['kind']}.{metadata.get('namespace', 'default')}.{metadata['name']}"


def annotated_skips(cases: dict[str, list[Doc]]) -> dict[Skip, str]:
    """The skip annotations in each case's documents, with their reasons."""
    found: dict[Skip, str] = {}
    for case, documents in cases.items():
        for document in documents:
            for name, value in (document["metadata"].get("annotations") or {}).items():
                if name.startswith(SKIP_ANNOTATION):
                    check, _, reason = value.partition("=")
                    found[(case, check, resource(document))] = reason
    return found


def expected_skips(cases: dict[str, list[Doc]]) -> set[Skip]:
    """The skips servekit makes: CKV_K8S_9 on job workers, CKV_K8S_35 with Secret env."""
    found: set[Skip] = set()
    for case, documents in cases.items():
        for document in documents:
            spec = document.get("spec") or {}
            spec = spec.get("template", {}).get("spec", spec)  # a Deployment's pod
            env = [e for c in spec.get("containers", []) for e in c.get("env", [])]
            labels = document["metadata"].get("labels") or {}
            worker = labels.get("app.kubernetes.io/component") == "worker"
            if document["kind"] == "Deployment" and worker:
                found.add((case, "CKV_K8S_9", resource(document)))
            if any("secretKeyRef" in e.get("valueFrom", {}) for e in env):
                found.add((case, "CKV_K8S_35", resource(document)))
    return found


def problems(report: Report, cases: dict[str, list[Doc]]) -> list[str]:
    """What is wrong with checkov's results for ``cases``: a failed check, a skip servekit
    does not make (``expected_skips``) or makes without a reason, one not made."""
    found = [f"{case}: {check} fails on {name}" for case, check, name in report.failed]
    annotated = annotated_skips(cases)
    expected = expected_skips(cases)
    for skip in sorted(annotated.keys() | report.skipped.keys() | expected):
        where = "{}: {} on {}".format(*skip)
        reason = report.skipped.get(skip)
        if skip not in expected:
            found.append(f"{where} is skipped, a skip servekit does not make")
        elif skip not in annotated:
            found.append(f"{where} is not annotated to be skipped")
        if reason is None and skip in annotated:
            found.append(f"{where} is annotated, but checkov did not skip it")
        elif reason is not None and reason != annotated.get(skip):
            found.append(f"{where} is skipped for {reason!r}, not the annotation's reason")
        if skip in annotated and len(annotated[skip]) < 40:
            found.append(f"{where} is skipped without a reason: {annotated[skip]!r}")
    return found
