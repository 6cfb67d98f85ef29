"""``servekit k8s render``: the kustomization of one model version, rendered.

Wired into ``servekit``'s parser by :func:`add_parser`; :func:`run` does the work and
raises :class:`~servekit.errors.ConfigError` for anything the user has to change.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s import kserve, promote
from servekit.k8s._kubectl import kustomize
from servekit.k8s.checks import parse_setting
from servekit.k8s.model import add_version, model_folder
from servekit.k8s.options import (
    add_monitoring_arguments,
    add_mount_arguments,
    add_shape_arguments,
    monitoring,
    mounts,
    shape,
)
from servekit.k8s.render import Release, parse_canary, render

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``k8s`` (with its ``render`` subcommand) to ``servekit``'s subcommands."""
    k8s = commands.add_parser(
        "k8s",
        help="Kubernetes manifests for a model",
        description="Kubernetes manifests for a servekit model (kustomize).",
    )
    actions = k8s.add_subparsers(dest="k8s_command", required=True, metavar="COMMAND")
    promote.add_parser(actions)
    parser = actions.add_parser(
        "render",
        help="write and render the kustomization of one model version",
        description=(
            "Write DIR/kustomization.yaml for one version of a model, with a copy of "
            "servekit's templates in DIR/templates, and print the rendered manifests "
            "(`kubectl kustomize DIR`; apply them with `kubectl apply -k DIR`). Resources "
            "are named NAME-vVERSION-servekit... (a '.' in VERSION is written '-'), and the "
            "pods need a Secret 'servekit-tokens' with a key 'tokens' (one access token a "
            "line). Rendering again replaces DIR/kustomization.yaml and DIR/templates: keep "
            "your own changes in another kustomization that lists DIR in its resources, or "
            "pass settings with --set."
        ),
    )
    parser.add_argument("--name", required=True, help="the model's name (SERVEKIT_MODEL_NAME)")
    parser.add_argument(
        "--version", required=True, help="the model's version (SERVEKIT_MODEL_VERSION)"
    )
    parser.add_argument("--image", required=True, help="the model image, with a tag or a digest")
    parser.add_argument("--gpu", action="store_true", help="one NVIDIA GPU per pod")
    parser.add_argument(
        "--async",
        dest="async_workers",
        action="store_true",
        help="asynchronous jobs in Redis, run by a worker Deployment that KEDA scales",
    )
    parser.add_argument(
        "--canary",
        metavar="OTHER=WEIGHT",
        help=(
            "also write a Gateway API HTTPRoute sending WEIGHT percent of /models/NAME/ "
            "to version OTHER (rendered on its own) and the rest to this version"
        ),
    )
    parser.add_argument(
        "--ingress",
        choices=("traefik", "ingress"),
        help="serve /models/NAME/VERSION/ through a Traefik IngressRoute or an Ingress "
        "(ingress needs --namespace)",
    )
    parser.add_argument(
        "--namespace",
        help="the namespace of every resource (required with --ingress ingress, whose "
        "Traefik middleware annotation names it)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a setting for the pods, in the servekit-settings ConfigMap: a SERVEKIT_* "
        "setting or another environment variable (HOME, HF_HOME...); repeatable",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="with --async: the Redis job store (redis://HOST[:PORT][/DB] or rediss://), "
        "for servekit (SERVEKIT_ASYNC_STORE) and KEDA (REDIS_ADDRESS); no password",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="where to write (default: ./k8s/NAME-vVERSION)",
    )
    parser.add_argument(
        "--model-dir",
        metavar="DIR",
        type=Path,
        help="the model's folder, whose routes serve /models/NAME/latest/ and /models/NAME/ "
        "(default: beside the version's, named NAME); rendered or updated with this version",
    )
    add_shape_arguments(parser)
    add_mount_arguments(parser)
    add_monitoring_arguments(parser)
    _add_kserve_arguments(parser)
    parser.set_defaults(handler=run)


def _add_kserve_arguments(parser: argparse.ArgumentParser) -> None:
    """--kserve and what only it takes."""
    group = parser.add_argument_group(
        "KServe",
        "With --kserve: servekit's ServingRuntime and an InferenceService NAME (the model's "
        "name for KServe's clients: /v2/models/NAME/infer) that serves the model KServe "
        "copies from --storage-uri into /mnt/models, in KServe's Standard (RawDeployment) "
        "mode. Takes --namespace, --set, --secret-env and the hardware options; not "
        "--async, --canary, --ingress, --redis-url, --volume, --model-dir or the capture "
        "and monitor options.",
    )
    group.add_argument(
        "--kserve",
        action="store_true",
        help="render for KServe (0.14 or later): a ServingRuntime NAME-servekit running "
        "--image and an InferenceService NAME",
    )
    group.add_argument(
        "--storage-uri",
        metavar="URI",
        help="with --kserve: the model's folder or file for KServe's storage initializer "
        "(s3://..., gs://..., pvc://CLAIM/PATH, https://...)",
    )
    group.add_argument(
        "--target",
        metavar="TARGET",
        help="with --kserve: what servekit serves, relative to /mnt/models: model.onnx "
        "(the default; the onnx format) or a servekit TARGET such as model.py:predict "
        "(the servekit format)",
    )
    group.add_argument(
        "--cluster-runtime",
        action="store_true",
        help="with --kserve: a ClusterServingRuntime (for every namespace) instead of a "
        "ServingRuntime in the namespace",
    )


def run(ns: argparse.Namespace) -> int:
    """Run ``servekit k8s render``: write the folder, print the rendered YAML; 0 on success."""
    if ns.kserve:
        return _run_kserve(ns)
    for flag, given in (
        ("--storage-uri", ns.storage_uri),
        ("--target", ns.target),
        ("--cluster-runtime", ns.cluster_runtime),
    ):
        if given:
            raise ConfigError(f"{flag} is for --kserve: give --kserve too")
    secret_env, volumes = mounts(ns)
    release = Release(
        name=ns.name,
        version=ns.version,
        image=ns.image,
        gpu=ns.gpu,
        async_workers=ns.async_workers,
        canary=parse_canary(ns.canary) if ns.canary else None,
        ingress=ns.ingress,
        namespace=ns.namespace,
        settings=tuple(parse_setting(text) for text in ns.settings),
        redis_url=ns.redis_url,
        sizing=shape(ns),
        secret_env=secret_env,
        volumes=volumes,
        monitoring=monitoring(ns),
    )
    folder = Path(ns.output) if ns.output else Path("k8s") / release.prefix[:-1]
    written = render(release, folder)
    model = ns.model_dir or model_folder(folder, release.name)
    add_version(model, release)
    rendered = kustomize(folder)
    if rendered is None:
        sys.stdout.write(written[0].read_text(encoding="utf-8"))
        print(
            f"servekit: kubectl not found: wrote {folder} and {model}; render them with "
            f"`kubectl kustomize {folder}` (or `kustomize build`) and the same for {model}",
            file=sys.stderr,
        )
        return 0
    sys.stdout.write(rendered)
    print(
        f"servekit: wrote {folder} and the model's routes in {model}; apply them with "
        f"`kubectl apply -k {folder}` and `kubectl apply -k {model}`",
        file=sys.stderr,
    )
    return 0


def _run_kserve(ns: argparse.Namespace) -> int:
    """``servekit k8s render --kserve``: the runtime and the InferenceService."""
    refused = kserve.refused_options({**vars(ns), "model_dir": ns.model_dir is not None})
    if refused:
        raise ConfigError(
            f"--kserve does not take {', '.join(refused)}: KServe makes the pods, Service "
            "and routes of an InferenceService itself"
        )
    if not ns.storage_uri:
        raise ConfigError(
            "--kserve needs --storage-uri: where KServe's storage initializer finds the "
            "model (s3://..., gs://..., pvc://CLAIM/PATH...)"
        )
    secret_env, _ = mounts(ns)
    release = kserve.KServeRelease(
        name=ns.name,
        version=ns.version,
        image=ns.image,
        storage_uri=ns.storage_uri,
        target=ns.target or "model.onnx",
        cluster_runtime=ns.cluster_runtime,
        namespace=ns.namespace,
        settings=tuple(parse_setting(text) for text in ns.settings),
        secret_env=secret_env,
        sizing=shape(ns),
        gpu=ns.gpu,
    )
    folder = Path(ns.output) if ns.output else kserve.default_folder(release)
    written = kserve.render_kserve(release, folder)
    rendered = kustomize(folder)
    if rendered is None:
        sys.stdout.write(written[0].read_text(encoding="utf-8"))
        print(
            f"servekit: kubectl not found: wrote {folder}; render it with "
            f"`kubectl kustomize {folder}` (or `kustomize build`)",
            file=sys.stderr,
        )
        return 0
    sys.stdout.write(rendered)
    print(
        f"servekit: wrote {folder}; apply it with `kubectl apply -k {folder}` (KServe 0.14 "
        "or later, and the Secret servekit-tokens in the InferenceService's namespace)",
        file=sys.stderr,
    )
    return 0
