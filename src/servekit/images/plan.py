"""What ``servekit build`` makes of a project folder: the base image and the Dockerfile.

:func:`plan_build` checks the project (:mod:`servekit.images.project`) and its TARGET
(:mod:`servekit.images.needs`: nothing the image needs left out) and picks the base;
:func:`render_dockerfile` is pure text from that plan.

The project's packages are installed under the base image's pins
(:data:`CONSTRAINTS`, written by ``base-images/``): a requirement cannot replace
servekit, uWSGI or what the base pinned (numpy, onnxruntime-gpu, NVIDIA's wheels); pip
fails the build instead. A distribution of another name that would overwrite the base's
modules (``onnxruntime`` over ``onnxruntime-gpu``) is refused here, before any build.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from servekit._version import __version__
from servekit.errors import ConfigError, ServekitError
from servekit.images.mlflow_env import MlflowEnv, read_mlflow_env
from servekit.images.needs import check_target
from servekit.images.project import MARKER, Project, read_project
from servekit.runtimes import Target, parse_target

__all__ = [
    "CONSTRAINTS",
    "BuildPlan",
    "base_flavour",
    "default_base",
    "default_tag",
    "plan_build",
    "render_dockerfile",
]

PROJECT_DIR = "/srv/model"
"""Where the base images keep the model project (``SERVEKIT_PROJECT_DIR``)."""
USER = "10001:10001"
"""The base images' non-root user and group."""
ONNXRUNTIME_CPU = "onnxruntime>=1.17"
RUNTIME_PACKAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("onnx", "cpu"): (ONNXRUNTIME_CPU,),
    ("mlflow", "cpu"): ("mlflow-skinny", "pandas"),
    ("mlflow", "cuda"): ("mlflow-skinny", "pandas"),
}
"""What a runtime needs that its base image (runtime, flavour) does not have: pip
requirements installed with the project's, under the base's pins."""
CONSTRAINTS = "/opt/servekit/constraints.txt"
"""The base images' pins: every package of their virtual environment, ``name==version``."""
_CLASHES = {
    "cuda": ("onnxruntime", "the CUDA base has onnxruntime-gpu, whose module it would overwrite"),
    "cpu-onnx": (
        "onnxruntime-gpu",
        f"servekit installs {ONNXRUNTIME_CPU} for a .onnx TARGET on the cpu base, and "
        "onnxruntime-gpu would overwrite its module (build with --gpu for the CUDA base)",
    ),
}
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
    python: MlflowEnv = field(default_factory=MlflowEnv)
    """An MLflow model's recorded Python version and conda pip requirements."""


def base_flavour(runtime: str, gpu: bool) -> str:
    """The base image for a runtime: ``r`` for R, ``cuda`` with a GPU, else ``cpu``."""
    if runtime == "r":
        if gpu:
            raise ConfigError("--gpu: there is no CUDA image for R models; build without --gpu")
        return "r"
    return "cuda" if gpu else "cpu"


def default_base(flavour: str) -> str:
    """servekit's own base image for ``flavour``, as ``base-images/build`` tags it."""
    return f"servekit/{flavour}:{__version__}"


def _refuse_clashes(project: Project, flavour: str, runtime: str) -> None:
    key = "cpu-onnx" if (flavour, runtime) == ("cpu", "onnx") else flavour
    if key not in _CLASHES:
        return
    name, why = _CLASHES[key]
    for req in project.installs:
        if req.name == name:
            raise ConfigError(
                f"{req.file} line {req.line} names {name}: {why}; remove that line "
                "(the constraints of the base cannot stop a package of another name)"
            )


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
    """Check the project and its TARGET, and decide the image. Raises ConfigError.

    An empty ``target`` serves the project folder itself, for a folder a runtime claims
    (an MLflow model's, holding ``MLmodel``)."""
    project = read_project(project_dir)
    parsed, spec = _target(project, target)
    try:
        check_target(project.root, project.ignore, parsed)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot read the project {project.root}: {exc}") from None
    tag = tag or default_tag(project.root)
    if not _TAG.fullmatch(tag):
        raise ConfigError(f"--tag {tag!r} is not an image name (name[:tag], lower case)")
    flavour = base_flavour(parsed.runtime, gpu)
    _refuse_clashes(project, flavour, parsed.runtime)
    return BuildPlan(
        project=project,
        target=_checked("TARGET", spec),
        runtime=parsed.runtime,
        flavour=flavour,
        base_image=_checked("--base-image", base_image or default_base(flavour)),
        tag=tag,
        model_name=_checked("--model-name", model_name or project.root.name),
        model_version=_checked("--model-version", model_version),
        python=read_mlflow_env(parsed.path or project.root, bool(project.requirements))
        if parsed.runtime == "mlflow"
        else MlflowEnv(),
    )


def _target(project: Project, target: str) -> tuple[Target, str]:
    """The parsed TARGET and how the image names it (relative to the project)."""
    text = target.strip() or "."
    try:
        parsed = parse_target(text, str(project.root))
    except ServekitError as exc:
        if not target.strip():
            raise ConfigError(
                "--target: name what to serve (model.py:predict); only a folder a runtime "
                f"serves as it is (an MLflow model's, holding MLmodel) needs none ({exc.message})"
            ) from None
        raise ConfigError(exc.message) from None
    if parsed.path is None:
        if parsed.uri is not None:
            raise ConfigError(
                f"TARGET {target!r}: servekit build puts files in the image, not URIs; "
                "download the model into the project first (mlflow artifacts download)"
            )
        return parsed, text
    try:
        rel = parsed.path.relative_to(project.root).as_posix()
    except ValueError:
        raise ConfigError(
            f"TARGET {target!r} is outside the project folder {project.root}"
        ) from None
    if not parsed.path.is_file() and not parsed.path.is_dir():
        raise ConfigError(f"TARGET {target!r}: no file {rel} in {project.root}")
    return parsed, f"{rel}:{parsed.name}" if parsed.name else rel


def _q(text: str) -> str:
    """A double-quoted Dockerfile word: ``\\``, ``"`` and ``$`` escaped."""
    return '"' + re.sub(r'([\\"$])', r"\\\1", text) + '"'


def _copy(source: str, dest: str) -> str:
    return "COPY " + json.dumps([source, dest], ensure_ascii=False)


def _base_note(plan: BuildPlan) -> list[str]:
    """Comment lines saying where servekit's default base comes from (none for another)."""
    if plan.base_image != default_base(plan.flavour):
        return []
    name = plan.base_image.rsplit(":", 1)[0]
    return [
        f"# {plan.base_image} is servekit's base image, on no public registry (a `docker build`",
        f"# without it would pull docker.io/{name}, which is not servekit's): build it first",
        "# with base-images/build from servekit's source, or push it to a registry of yours",
        f"# and write `servekit build --base-image registry.example.com/{plan.base_image}`.",
    ]


def _pip_step(packages: list[str], cleanup: bool) -> str:
    """The RUN that installs ``packages`` (pip arguments) under the base image's pins
    (and removes the copied requirement files with ``cleanup``)."""
    failed = (
        "servekit: pip failed (see above). If it cannot open "
        f"{CONSTRAINTS}, the base image predates servekit's pins: build it again "
        "(base-images/build). If it names a conflict with a constraint, a requirement would "
        "replace a package of the base image (servekit, uWSGI, numpy, onnxruntime-gpu...), "
        "which that file pins: loosen or remove the requirement."
    )
    return (
        f"RUN pip install --no-cache-dir -c {CONSTRAINTS} {' '.join(packages)} \\\n"
        f'      || {{ echo "{failed}" >&2; exit 1; }} \\\n'
        + (f" && rm -rf {_PIP_DIR} \\\n" if cleanup else "")
        + " && pip check"  # a requirement that broke servekit's own fails here
    )


def _python_check(env: MlflowEnv) -> list[str]:
    """A RUN that fails, before any install, when the base's Python is not the
    ``major.minor`` the model was saved with."""
    wanted = env.major_minor
    if wanted is None:
        return []
    failed = (
        f"servekit: the model was saved with Python {env.python} ({env.source}) and this "
        "base image has Python $(python3 -c 'import platform; print(platform.python_version())'),"
        " which may not load it: build on a base with Python "
        f"{wanted[0]}.{wanted[1]} (--base-image), or save the model again with this Python."
    )
    return [
        f"RUN python3 -c 'import sys; sys.exit(sys.version_info[:2] != {wanted})' \\\n"
        f'      || {{ echo "{failed}" >&2; exit 1; }}'
    ]


def render_dockerfile(plan: BuildPlan) -> str:
    """The Dockerfile of the model image: the base, the project's packages, its files.
    Its first line is :data:`~servekit.images.project.MARKER`: a later build leaves it out."""
    lines = [
        f"{MARKER} (servekit {__version__}), which leaves this file out of the image.",
        f"# Model {plan.model_name!r} version {plan.model_version!r}, TARGET {plan.target!r},",
        f"# on the {plan.flavour} base. --dockerfile-only replaces it: edit a copy without this",
        "# first line, or change the project and run it again.",
        *_base_note(plan),
        f"FROM {plan.base_image}",
    ]
    packages = [_q(p) for p in RUNTIME_PACKAGES.get((plan.runtime, plan.flavour), ())]
    packages += [_q(p) for p in plan.python.pip]
    requirements = plan.project.requirements
    lines += _python_check(plan.python)
    lines += [_copy(rel, f"{_PIP_DIR}/{rel}") for rel in requirements]
    if requirements:
        packages.append(f"-r {_PIP_DIR}/{requirements[0]}")
    if packages:
        lines += ["USER root", _pip_step(packages, bool(requirements)), f"USER {USER}"]
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
