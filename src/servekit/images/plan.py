"""What ``servekit build`` makes of a project folder: the base image and the Dockerfile.

:func:`plan_build` checks the project (:mod:`servekit.images.project`) and its TARGET and
picks the base; :func:`render_dockerfile` is pure text from that plan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from servekit._version import __version__
from servekit.errors import ConfigError, ServekitError
from servekit.images.project import Project, read_project
from servekit.runtimes import parse_target

__all__ = ["BuildPlan", "base_flavour", "default_tag", "plan_build", "render_dockerfile"]

PROJECT_DIR = "/srv/model"
"""Where the base images keep the model project (``SERVEKIT_PROJECT_DIR``)."""
USER = "10001:10001"
"""The base images' non-root user and group."""
ONNXRUNTIME_CPU = "onnxruntime>=1.17"
_PIP_DIR = "/tmp/servekit-requirements"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)


@dataclass(frozen=True)
class BuildPlan:
    """Everything the Dockerfile is written from."""

    project: Project
    target: str
    runtime: str
    flavour: str
    base_image: str
    tag: str
    model_name: str
    model_version: str


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


def _checked(what: str, text: str) -> str:
    if not text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"{what} {text!r} must be non-empty, without control characters")
    return text


def plan_build(
    project_dir: Path,
    target: str,
    *,
    tag: str = "",
    gpu: bool = False,
    base_image: str = "",
    model_name: str = "",
    model_version: str = "1",
) -> BuildPlan:
    """Check the project and its TARGET, and decide the image. Raises ConfigError."""
    project = read_project(project_dir)
    try:
        parsed = parse_target(target, str(project.root))
    except ServekitError as exc:
        raise ConfigError(exc.message) from None
    if parsed.path is not None:
        try:
            rel = parsed.path.relative_to(project.root).as_posix()
        except ValueError:
            raise ConfigError(
                f"TARGET {target!r} is outside the project folder {project.root}"
            ) from None
        if not parsed.path.is_file():
            raise ConfigError(f"TARGET {target!r}: no file {rel} in {project.root}")
        if rel not in project.files:
            raise ConfigError(f"TARGET {target!r}: {rel} is excluded by .modelignore")
        spec = f"{rel}:{parsed.name}" if parsed.name else rel
    else:
        spec = target.strip()
    tag = tag or default_tag(project.root)
    if not _TAG.fullmatch(tag):
        raise ConfigError(f"--tag {tag!r} is not an image name (name[:tag], lower case)")
    flavour = base_flavour(parsed.runtime, gpu)
    return BuildPlan(
        project=project,
        target=_checked("TARGET", spec),
        runtime=parsed.runtime,
        flavour=flavour,
        base_image=_checked("--base-image", base_image or f"servekit/{flavour}:{__version__}"),
        tag=tag,
        model_name=_checked("--model-name", model_name or project.root.name),
        model_version=_checked("--model-version", model_version),
    )


def _q(text: str) -> str:
    """A double-quoted Dockerfile word: ``\\``, ``"`` and ``$`` escaped."""
    return '"' + re.sub(r'([\\"$])', r"\\\1", text) + '"'


def _copy(source: str, dest: str) -> str:
    return "COPY " + json.dumps([source, dest], ensure_ascii=False)


def render_dockerfile(plan: BuildPlan) -> str:
    """The Dockerfile of the model image: the base, the project's packages, its files."""
    lines = [
        f"# Written by servekit {__version__} (`servekit build`) for {plan.model_name!r}",
        f"# version {plan.model_version!r}, TARGET {plan.target!r}, on the {plan.flavour} base.",
        f"FROM {plan.base_image}",
    ]
    installs = []
    if plan.runtime == "onnx" and plan.flavour == "cpu":
        installs.append(f"pip install --no-cache-dir {_q(ONNXRUNTIME_CPU)}")
    requirements = plan.project.requirements
    lines += [_copy(rel, f"{_PIP_DIR}/{rel}") for rel in requirements]
    if requirements:
        installs.append(f"pip install --no-cache-dir -r {_PIP_DIR}/{requirements[0]}")
        installs.append(f"rm -rf {_PIP_DIR}")
    if installs:
        installs.append("pip check")  # a requirement that broke servekit's own fails here
        lines += ["USER root", "RUN " + " \\\n && ".join(installs), f"USER {USER}"]
    env = {
        "SERVEKIT_TARGET": plan.target,
        "SERVEKIT_MODEL_NAME": plan.model_name,
        "SERVEKIT_MODEL_VERSION": plan.model_version,
    }
    labels = {
        "org.opencontainers.image.title": plan.model_name,
        "org.opencontainers.image.version": plan.model_version,
        "org.opencontainers.image.description": f"servekit model image: {plan.model_name}",
        "org.opencontainers.image.base.name": plan.base_image,
        "io.servekit.target": plan.target,
    }
    lines += [
        f"COPY . {PROJECT_DIR}",
        "ENV " + " \\\n    ".join(f"{k}={_q(v)}" for k, v in env.items()),
        "LABEL " + " \\\n      ".join(f"{k}={_q(v)}" for k, v in labels.items()),
    ]
    return "\n".join(lines) + "\n"
