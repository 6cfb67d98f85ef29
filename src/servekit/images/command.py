"""``servekit build PROJECT_DIR --target TARGET --tag TAG``: a project folder into an image.

Writes the Dockerfile (and shows it), copies the files that ``.modelignore`` lets
through into a clean build context, and builds it with docker, podman or buildah,
showing each step. ``--dockerfile-only`` writes ``Dockerfile`` and ``.dockerignore``
into the project for a build elsewhere: files whose first line says servekit wrote them
(a later build leaves them out of the image), never over a user's own without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError
from servekit.images.engines import ENGINES, find_engine
from servekit.images.modelignore import dockerignore
from servekit.images.plan import BuildPlan, default_base, plan_build, render_dockerfile
from servekit.images.progress import Progress, run_build
from servekit.images.project import DOCKERFILE, Project, written_by_servekit

__all__ = ["add_parser", "run", "stage_context"]


def add_parser(commands: Any) -> None:
    """Add the ``build`` command to the CLI's subcommands."""
    build = commands.add_parser(
        "build",
        help="build a model project into a container image",
        description=(
            "Build PROJECT_DIR into an image FROM a servekit base image: servekit/r for "
            ".R targets, servekit/cuda with --gpu, else servekit/cpu. Files matching "
            "PROJECT_DIR/.modelignore stay out (one that leaves out the TARGET, a local "
            "module it imports or a requirements file is refused); a requirements.txt is "
            "pip-installed under the base image's pins (/opt/servekit/constraints.txt). "
            "An MLflow model's folder needs no --target: the requirements MLflow wrote are "
            "installed (requirements.txt, else conda.yaml's pip part) and checked with pip "
            "check, on a base whose Python is the one the model was saved with."
        ),
    )
    build.add_argument("project", metavar="PROJECT_DIR", help="the model project folder")
    build.add_argument(
        "--target",
        default="",
        help="what to serve, relative to PROJECT_DIR (model.py:predict); none for an MLflow "
        "model's folder (holding MLmodel), which is served as it is",
    )
    build.add_argument("--tag", default="", help="image name:tag (default: <folder>:latest)")
    build.add_argument("--gpu", action="store_true", help="build on the CUDA base image")
    build.add_argument(
        "--base-image",
        "--base",
        default="",
        metavar="IMAGE",
        help="build FROM this image instead, e.g. servekit's base pushed to your registry "
        "(registry.example.com/servekit/cpu:VERSION)",
    )
    build.add_argument("--model-name", default="", help="SERVEKIT_MODEL_NAME (default: folder)")
    build.add_argument("--model-version", default="1", help="SERVEKIT_MODEL_VERSION")
    build.add_argument("--engine", choices=ENGINES, default="", help="default: the first found")
    build.add_argument(
        "--engine-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="pass ARG to the engine's build command (repeatable), e.g. "
        "--engine-arg=--volume=/etc/ssl/certs:/etc/ssl/certs:ro",
    )
    build.add_argument(
        "--dockerfile-only",
        action="store_true",
        help="write PROJECT_DIR/Dockerfile and .dockerignore, and do not build",
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="with --dockerfile-only: replace a Dockerfile or .dockerignore servekit did not write",
    )
    build.add_argument("--quiet", action="store_true", help="do not show the Dockerfile")
    build.set_defaults(handler=run)


def stage_context(project: Project, context: Path) -> None:
    """Copy the project's files into ``context``, readable by the image's non-root user
    (folders 0755, files a+r, executables a+x; links kept as links)."""
    for rel in project.files:
        source, dest = project.root / rel, context / rel
        for folder in reversed(dest.relative_to(context).parents[:-1]):
            if not (context / folder).is_dir():
                (context / folder).mkdir()
                (context / folder).chmod(0o755)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
            continue
        shutil.copy2(source, dest)
        mode = dest.stat().st_mode
        readable = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
        if mode & stat.S_IXUSR:
            readable |= stat.S_IXGRP | stat.S_IXOTH
        dest.chmod(mode | readable)


def _unreadable(project: Project) -> list[str]:
    return [
        rel
        for rel in project.files
        if not (project.root / rel).is_symlink()
        and not (project.root / rel).stat().st_mode & stat.S_IROTH
    ]


def _write_dockerfile_only(plan: BuildPlan, dockerfile: str, force: bool) -> int:
    root = plan.project.root
    target, ignore = root / DOCKERFILE, root / ".dockerignore"
    for path in (target, ignore):
        if not force and path.exists() and not written_by_servekit(path):
            raise ConfigError(
                f"{path} exists and servekit did not write it (its first line does not say "
                "so): not replaced (move it away, or --force to replace it)"
            )
    files = [f for f in plan.project.files if f not in (DOCKERFILE, ".dockerignore")]
    target.write_text(dockerfile, encoding="utf-8")
    ignore.write_text(dockerignore(files), encoding="utf-8")
    build = f"docker build -t {shlex.quote(plan.tag)} {shlex.quote(str(root))}"
    sys.stderr.write(f"wrote {target} and {ignore} (servekit build leaves both out of images)\n")
    if plan.base_image == default_base(plan.flavour):
        name = plan.base_image.rsplit(":", 1)[0]
        sys.stderr.write(
            f"its base, {plan.base_image}, is on no public registry (docker.io/{name} is not "
            "servekit's): build it first on the machine that builds the image, with "
            "base-images/build from servekit's source, or push it to a registry of yours and "
            "write the Dockerfile again with --base-image "
            f"registry.example.com/{plan.base_image}\nthen build with: {build}\n"
        )
    else:
        sys.stderr.write(f"build with: {build}\n")
    hidden = _unreadable(plan.project)
    if hidden:
        sys.stderr.write(
            "warning: the image's user (uid 10001) cannot read these files, which COPY "
            f"keeps as they are here: {', '.join(hidden)} (chmod a+r them; `servekit "
            "build` without --dockerfile-only fixes this itself)\n"
        )
    return 0


def run(ns: argparse.Namespace) -> int:
    """Plan, write and (unless --dockerfile-only) build; the engine's exit status."""
    plan = plan_build(
        Path(ns.project),
        ns.target,
        tag=ns.tag,
        gpu=ns.gpu,
        base_image=ns.base_image,
        model_name=ns.model_name,
        model_version=ns.model_version,
    )
    dockerfile = render_dockerfile(plan)
    if not ns.quiet:
        sys.stdout.write(dockerfile)
        sys.stdout.flush()
    try:
        if ns.dockerfile_only:
            return _write_dockerfile_only(plan, dockerfile, ns.force)
        engine = find_engine(ns.engine)
        if not ns.base_image and not engine.has_image(plan.base_image):
            # Never pull a short name like servekit/cpu from a public registry by accident.
            raise ConfigError(
                f"the base image {plan.base_image} is not on this machine ({engine.name}): "
                "build it from servekit's source with base-images/build, or name one "
                "with --base-image"
            )
        with tempfile.TemporaryDirectory(prefix="servekit-build-") as tmp:
            context, path = Path(tmp) / "context", Path(tmp) / "Dockerfile"
            context.mkdir()
            context.chmod(0o755)
            stage_context(plan.project, context)
            path.write_text(dockerfile, encoding="utf-8")
            command = engine.build_command(context, path, plan.tag, ns.engine_arg)
            handle, name = tempfile.mkstemp(prefix="servekit-build-", suffix=".log")
            os.close(handle)
            log = Path(name)
            sys.stderr.write(
                f"building {plan.tag} from {plan.base_image} with {engine.name} "
                f"({len(plan.project.files)} files; log: {log})\n"
            )
            progress = Progress(sys.stderr, sys.stderr.isatty())
            code = run_build(command, log, progress)
    except OSError as exc:
        raise ConfigError(f"servekit build: {exc}") from None
    if code == 0:
        log.unlink(missing_ok=True)
        runner = "docker" if engine.name == "docker" else "podman"
        sys.stderr.write(f"run it: {runner} run --rm -p 8080:8080 {shlex.quote(plan.tag)}\n")
    return code
