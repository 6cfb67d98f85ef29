"""Fixtures for the Kubernetes templates: rendered combinations, and the tools that check
them (kubectl, kubernetes-validate, checkov, promtool, node). Every tool that is missing
fails its tests with what to install: none is skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from servekit.k8s.model import add_version, read_model, write_model
from servekit.k8s.monitoring import Monitoring, parse_baseline
from servekit.k8s.mounts import parse_secret_env, parse_volume
from servekit.k8s.promote import promoted
from servekit.k8s.render import Release, render, templates
from servekit.k8s.tiers import load_tiers

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = Path(str(templates()))
SCHEMAS_DIR = REPO / ".venv" / "k8s-schemas"
MONITORING_DIR = TEMPLATES / "monitoring"
COMPONENTS = (
    "gpu",
    "async-workers",
    "hpa-custom-metrics",
    "servicemonitor",
    "ingress-path/traefik",
    "ingress-path/ingress",
    "monitoring-capture/files",  # after async-workers: it reaches the job workers
    "monitoring-capture/redis",
)
MONITOR = "monitoring-capture/monitor"
"""Used with monitoring-capture/files (it reads that claim): in components:all and
the render cases, not alone."""
OVERLAYS = ("canary-gateway", "canary-traefik", "seldon")
INSTALL = {
    "kubectl": (
        "kubectl, the client, with kustomize v5: scripts/install-kubectl .venv/bin, or the"
        " upstream binary (Debian's kubernetes-client 1.20 is too old)"
    ),
    "promtool": "promtool: apt-get install prometheus",
    "node": "Node.js: apt-get install nodejs npm",
}
CUSTOM = {
    "keda.sh/v1alpha1",
    "traefik.io/v1alpha1",
    "gateway.networking.k8s.io/v1",
    "monitoring.coreos.com/v1",
}
"""The apiVersions of the custom resources validated with tests/k8s/validate_resources.mjs."""


def tool(name: str) -> str:
    """The path of ``name``, or a failed test saying how to install it."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {INSTALL.get(name, name)} (scripts/test does)")
    return found


def kustomize(folder: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize folder``, parsed; a failure fails the test with kustomize's words."""
    done = subprocess.run(
        [tool("kubectl"), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl kustomize {folder}:\n{done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def write_kustomization(folder: Path, document: dict[str, Any]) -> Path:
    """A kustomization.yaml in ``folder``; absolute paths of ``resources`` and
    ``components`` (folders) are made relative, as kustomize wants them."""
    folder.mkdir(parents=True, exist_ok=True)
    for key in ("resources", "components"):
        if key in document:
            document[key] = [
                os.path.relpath(p, folder) if os.path.isabs(p) else p for p in document[key]
            ]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return folder


def combinations(root: Path) -> dict[str, Path]:
    """Every way the templates are meant to be used, as folders to kustomize: the base,
    each component alone and all together (over the base), each overlay, and what
    ``servekit k8s render`` writes for its options."""
    cases: dict[str, Path] = {"base": TEMPLATES / "base"}
    kind = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    base = [str(TEMPLATES / "base")]
    for component in COMPONENTS:
        cases[f"component:{component}"] = write_kustomization(
            root / component.replace("/", "-"),
            {**kind, "resources": base, "components": [str(TEMPLATES / "components" / component)]},
        )
    alternatives = ("ingress-path/ingress", "monitoring-capture/redis")
    together = [c for c in COMPONENTS if c not in alternatives] + [MONITOR]
    cases["components:all"] = write_kustomization(
        root / "all",
        {
            **kind,
            "namePrefix": "acme-",
            "nameSuffix": "-prod",
            "resources": base,
            "components": [str(TEMPLATES / "components" / c) for c in together],
        },
    )
    for overlay in OVERLAYS:
        cases[f"overlay:{overlay}"] = TEMPLATES / "overlays" / overlay
    releases = {
        "render:plain": Release("churn", "3", "registry.example.com/churn:3"),
        "render:everything": Release(
            "churn",
            "3.1",
            "registry.example.com/churn@sha256:" + "a" * 64,
            gpu=True,
            async_workers=True,
            canary=("3.0", 10),
            ingress="traefik",
            namespace="ml",
            settings=(("SERVEKIT_TIMEOUT", "30"), ("HF_HOME", "/tmp/hf")),
            redis_url="rediss://redis.data:6380/2",
        ),
        "render:ingress": Release(
            "fraud", "7", "registry.example.com/fraud:7", ingress="ingress", namespace="risk"
        ),
    }
    releases["render:mounts"] = Release(
        "churn",
        "6",
        "registry.example.com/churn:6",
        async_workers=True,
        secret_env=(parse_secret_env("DB_PASSWORD=churn-db/password"),),
        volumes=(
            parse_volume("data=pvc:churn-data:/data"),
            parse_volume("scratch=pvc:churn-scratch:/scratch:rw"),
        ),
    )
    releases["render:hostpath"] = Release(
        "churn",
        "7",
        "registry.example.com/churn:7",
        volumes=(parse_volume("ref=hostPath:/srv/ref:/ref"),),
    )
    releases["render:capture"] = Release(
        "churn",
        "8",
        "registry.example.com/churn:8",
        async_workers=True,
        namespace="ml",
        monitoring=Monitoring(
            "file",
            sample="0.5",
            schedule="15 4 * * MON-FRI",
            baseline=parse_baseline("churn-baseline/train.csv"),
            thresholds="thresholds.yaml",
        ),
    )
    releases["render:capture-redis"] = Release(
        "churn",
        "9",
        "registry.example.com/churn:9",
        monitoring=Monitoring("redis://redis.data:6379/1", sample="0.1"),
    )
    for tier, shape in load_tiers().items():  # the job workers get the tier too
        releases[f"render:tier-{tier}"] = Release(
            "churn", "5", "registry.example.com/churn:5", async_workers=True, sizing=shape
        )
    for case, release in releases.items():
        folder = root / case.replace(":", "-")
        render(release, folder)
        cases[case] = folder
    cases.update(model_cases(root / "models"))
    return cases


PROMOTIONS: dict[str, list[tuple[str | None, int, bool]]] = {
    "gateway": [("3", 10, False), ("3", 50, False), ("3", 100, False), (None, 100, True)],
    "ingress": [("3", 100, False), (None, 100, True)],  # a plain Ingress has no weights
}
"""Each form's promote sequence: (--to, --weight, --rollback) in turn."""
PROMOTIONS["traefik"] = PROMOTIONS["gateway"]


def model_cases(root: Path) -> dict[str, Path]:
    """Versions 2 and 3 of a model in each route form, with the model's folder as render
    writes it (``model:FORM``) and after each promote step (``model:FORM-N``), each with
    both versions so that the routes' Services resolve."""
    cases = {}
    for form, steps in PROMOTIONS.items():
        namespace = "risk" if form == "ingress" else None
        ingress = None if form == "gateway" else form
        versions = []
        for version in ("2", "3"):
            release = Release(
                "churn", version, f"r/churn:{version}", ingress=ingress, namespace=namespace
            )
            versions.append(str(render(release, root / form / f"churn-v{version}")[0].parent))
            add_version(root / form / "churn", release)
        state = read_model(root / form / "churn")
        assert state is not None
        for index, step in enumerate([None, *steps]):
            if step:
                state = promoted(state, *step)
            snapshot = root / form / f"step-{index}" / "churn"
            write_model(snapshot, state)
            name = f"model:{form}" + (f"-{index}" if index else "")
            cases[name] = write_kustomization(
                snapshot.parent / "all",
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [*versions, str(snapshot)],
                },
            )
    return cases


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The combinations' folders (written once a session)."""
    return combinations(tmp_path_factory.mktemp("k8s-cases"))


@pytest.fixture(scope="session")
def rendered(cases: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    """Every combination rendered by kubectl kustomize (once a session)."""
    return {case: kustomize(folder) for case, folder in cases.items()}


def venv_tool(name: str, env: str, hint: str, *elsewhere: Path) -> str:
    """``$env``, a console script of the test environment or one of ``elsewhere``, else
    a failed test."""
    candidates = [os.environ.get(env, ""), str(Path(sys.executable).parent / name)]
    candidates += [str(path) for path in elsewhere]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {hint} (scripts/test does)")
    return found


def all_documents(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every rendered document, and monitoring/prometheusrule.yaml (applied on its own)."""
    documents = [d for docs in rendered.values() for d in docs]
    documents.append(yaml.safe_load((MONITORING_DIR / "prometheusrule.yaml").read_text()))
    return documents
