"""Which container engine builds the image, and the command line it is given.

Docker counts only when its daemon answers (a bare ``docker`` client is common);
then podman, then buildah. buildah and podman read ``BUILDAH_ISOLATION`` (``chroot``
inside containers and CI) and ``CONTAINERS_CONF`` from the environment themselves.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from servekit.errors import ConfigError

__all__ = ["ENGINES", "Engine", "find_engine"]

ENGINES = ("docker", "podman", "buildah")


@dataclass(frozen=True)
class Engine:
    """A container engine on this machine."""

    name: str
    path: str

    def build_command(
        self, context: Path, dockerfile: Path, tag: str, extra: Sequence[str] = ()
    ) -> list[str]:
        """The command that builds ``dockerfile`` over ``context`` as ``tag``."""
        if self.name == "docker":
            head = [self.path, "build", "--progress=plain"]
        elif self.name == "podman":
            head = [self.path, "build", "--format", "docker"]
        else:
            head = [self.path, "bud", "--format", "docker"]
        # --format docker keeps HEALTHCHECK, which the OCI image format has no field for.
        return [*head, *extra, "-f", str(dockerfile), "-t", tag, str(context)]

    def has_image(self, ref: str) -> bool:
        """Whether ``ref`` is in this engine's local image store."""
        if self.name == "docker":
            command = [self.path, "image", "inspect", ref]
        elif self.name == "podman":
            command = [self.path, "image", "exists", ref]
        else:
            command = [self.path, "inspect", "--type", "image", ref]
        try:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0


def _docker_answers(path: str) -> bool:
    try:
        done = subprocess.run(
            [path, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=15,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_engine(
    wanted: str = "",
    which: Callable[[str], str | None] = shutil.which,
    docker_answers: Callable[[str], bool] = _docker_answers,
) -> Engine:
    """The engine named ``wanted``, or the first usable one. Raises ConfigError."""
    if wanted:
        if wanted not in ENGINES:
            raise ConfigError(f"--engine {wanted!r}: choose one of {', '.join(ENGINES)}")
        path = which(wanted)
        if path is None:
            raise ConfigError(f"--engine {wanted}: no {wanted} command on PATH")
        return Engine(wanted, path)
    skipped = []
    for name in ENGINES:
        path = which(name)
        if path is None:
            continue
        if name == "docker" and not docker_answers(path):
            skipped.append("docker (installed, but its daemon does not answer)")
            continue
        return Engine(name, path)
    found = f"; found {', '.join(skipped)}" if skipped else ""
    raise ConfigError(
        "no container engine to build with: install Docker, podman or buildah, or "
        f"use --dockerfile-only and build elsewhere{found}"
    )
