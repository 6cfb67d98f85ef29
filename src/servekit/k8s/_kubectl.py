"""``kubectl kustomize``, the one command the k8s commands run (I/O: a subprocess)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from servekit.errors import ConfigError

__all__ = ["kustomize"]

_TIMEOUT = 120


def kustomize(folder: Path) -> str | None:
    """The manifests ``kubectl kustomize folder`` renders; ``None`` without kubectl. A
    failure or a timeout is a :class:`ConfigError` with kustomize's words."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(folder)],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"kubectl kustomize {folder} took over {exc.timeout}s") from exc
    if done.returncode != 0:
        raise ConfigError(f"kubectl kustomize {folder} failed: {done.stderr.strip()}")
    return done.stdout
