"""What ``servekit build`` makes of a project folder: the base image and the Dockerfile.

:func:`plan_build` reads the folder (its ``.modelignore``, which files go in, whether it
has a ``requirements.txt``); :func:`render_dockerfile` is pure text from that plan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from servekit._version import __version__
from servekit.errors import ConfigError, ServekitError
from servekit.images.modelignore import ModelIgnore, included_files, read_modelignore
from servekit.runtimes import parse_target

__all__ = ["BuildPlan", "base_flavour", "default_tag", "plan_build", "render_dockerfile"]

PROJECT_DIR = "/srv/model"
"""Where the base images keep the model project (``SERVEKIT_PROJECT_DIR``)."""
USER = "10001:10001"
"""The base images' non-root user and group."""
REQUIREMENTS = "requirements.txt"
ONNXRUNTIME_CPU = "onnxruntime>=1.17"


@dataclass(frozen=True)
class BuildPlan:
    """Everything the Dockerfile is written from."""

    project: Path
    target: str
    runtime: str
    flavour: str
    base_image: str
    tag: str
    model_name: str
    model_version: str
    requirements: bool
    files: tuple[str, ...]
    ignore: ModelIgnore


def base_flavour(runtime: str, gpu: bool) -> str:
    """The base image for a runtime: ``r`` for R, ``cuda`` with a GPU, else ``cpu``."""
    if runtime == "r":
        if gpu:
            raise ConfigError("--gpu: there is no CUDA image for R models; build without --gpu")
        return "r"
    return "cuda" if gpu else "cpu"


def default_tag(project: Path) -> str:
    """``<folder>:latest``, the folder's name made a valid image name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", project.resolve().name.lower()).strip("-._")
    return f"{name or 'model'}:latest"


def plan_build(
    project: Path,
    target: str,
    *,
    tag: str = "",
    gpu: bool = False,
    base_image: str = "",
    model_name: str = "",
    model_version: str = "1",
) -> BuildPlan:
    """Check the project and its TARGET, and decide the image. Raises ConfigError."""
    if not project.is_dir():
        raise ConfigError(f"{project}: no such project folder")
    project = project.resolve()
    try:
        parsed = parse_target(target, str(project))
    except ServekitError as exc:
        raise ConfigError(exc.message) from None
    ignore = read_modelignore(project)
    files = included_files(project, ignore)
    if parsed.path is not None:
        try:
            rel = parsed.path.relative_to(project).as_posix()
        except ValueError:
            raise ConfigError(
                f"TARGET {target!r} is outside the project folder {project}"
            ) from None
        if not parsed.path.is_file():
            raise ConfigError(f"TARGET {target!r}: no file {rel} in {project}")
        if rel not in files:
            raise ConfigError(f"TARGET {target!r}: {rel} is excluded by {project}/.modelignore")
        spec = f"{rel}:{parsed.name}" if parsed.name else rel
    else:
        spec = target.strip()
    flavour = base_flavour(parsed.runtime, gpu)
    return BuildPlan(
        project=project,
        target=spec,
        runtime=parsed.runtime,
        flavour=flavour,
        base_image=base_image or f"servekit/{flavour}:{__version__}",
        tag=tag or default_tag(project),
        model_name=model_name or project.name,
        model_version=model_version,
        requirements=REQUIREMENTS in files,
        files=tuple(files),
        ignore=ignore,
    )


def _q(text: str) -> str:
    return json.dumps(text)


def render_dockerfile(plan: BuildPlan) -> str:
    """The Dockerfile of the model image: the base, the project's packages, its files."""
    lines = [
        f"# Written by servekit {__version__} (`servekit build`): the model {plan.model_name}",
        f"# version {plan.model_version}, TARGET {plan.target}, on the {plan.flavour} base.",
        f"FROM {plan.base_image}",
    ]
    installs = []
    if plan.runtime == "onnx" and plan.flavour == "cpu":
        installs.append(f"pip install --no-cache-dir {_q(ONNXRUNTIME_CPU)}")
    if plan.requirements:
        lines.append(f"COPY {REQUIREMENTS} /tmp/servekit-{REQUIREMENTS}")
        installs.append(f"pip install --no-cache-dir -r /tmp/servekit-{REQUIREMENTS}")
        installs.append(f"rm /tmp/servekit-{REQUIREMENTS}")
    if installs:
        lines += ["USER root", "RUN " + " \\\n && ".join(installs), f"USER {USER}"]
    lines += [
        f"COPY . {PROJECT_DIR}",
        "ENV "
        + " \\\n    ".join(
            (
                f"SERVEKIT_TARGET={_q(plan.target)}",
                f"SERVEKIT_MODEL_NAME={_q(plan.model_name)}",
                f"SERVEKIT_MODEL_VERSION={_q(plan.model_version)}",
            )
        ),
        "LABEL "
        + " \\\n      ".join(
            (
                f"org.opencontainers.image.title={_q(plan.model_name)}",
                f"org.opencontainers.image.version={_q(plan.model_version)}",
                f"org.opencontainers.image.base.name={_q(plan.base_image)}",
                f"io.servekit.target={_q(plan.target)}",
            )
        ),
    ]
    return "\n".join(lines) + "\n"
