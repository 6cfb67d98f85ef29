"""Write the kustomization of one model version (I/O: only the folder it is told to write).

:func:`render` copies the packaged templates into ``DIR/templates`` (so the folder is
self-contained and can be committed, e.g. for GitOps) and writes ``DIR/kustomization.yaml``
naming this version's resources ``<name>-v<version>-...``, its image, its settings, and the
components asked for. Everything written is plain YAML for ``kubectl apply -k DIR``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s._patches import add, patch, replace
from servekit.k8s._yaml import to_yaml
from servekit.k8s.checks import check, parse_canary, redis_target, version_label
from servekit.k8s.monitoring import Monitoring, monitoring_parts
from servekit.k8s.mounts import SecretEnv, Volume, mount_patches
from servekit.k8s.tiers import Sizing, sizing_patches

__all__ = [
    "Release",
    "parse_canary",
    "parse_image",
    "render",
    "templates",
    "write_kustomization",
]

_BASE_IMAGES = ("servekit/cpu", "servekit/cuda")
_MARKER = "# Written by `servekit k8s render`"
_PREDICT_ROUTE = "/models/{name}/"


@dataclass(frozen=True)
class Release:
    """What to render: one version of one model, and its options."""

    name: str
    """The model's name (``SERVEKIT_MODEL_NAME``; a DNS-1035 label, a letter first)."""
    version: str
    """The model's version (``SERVEKIT_MODEL_VERSION``; ``[a-z0-9.]``, ``.`` is ``-`` in names)."""
    image: str
    """The model image, with a tag or digest (``registry/model:1.2`` or ``...@sha256:...``)."""
    gpu: bool = False
    async_workers: bool = False
    canary: tuple[str, int] | None = None
    """(other version, percent of ``/models/<name>/`` traffic it gets) for an HTTPRoute."""
    ingress: str | None = None
    """``traefik`` (IngressRoute) or ``ingress`` (an Ingress): /models/<name>/<version>/."""
    namespace: str | None = None
    settings: tuple[tuple[str, str], ...] = ()
    """``--set`` (KEY, VALUE) pairs, merged into the servekit-settings ConfigMap."""
    redis_url: str | None = None
    """The job store of ``async_workers`` (``SERVEKIT_ASYNC_STORE``; KEDA's address too)."""
    sizing: Sizing | None = None
    """The pods' resources, nodes and replica bounds (a tier with overrides); ``None``:
    the templates' (the base's, or the gpu component's with ``gpu``)."""
    secret_env: tuple[SecretEnv, ...] = ()
    """Environment variables from keys of the user's Secrets (``--secret-env``)."""
    volumes: tuple[Volume, ...] = ()
    """Volumes mounted into the model's containers (``--volume``), read-only by default."""
    monitoring: Monitoring | None = None
    """Prediction capture (``--capture``) and ``servekit monitor``'s CronJob, if any."""

    @property
    def gpus(self) -> int:
        """NVIDIA GPUs per pod (the gpu component is used when there are any)."""
        return self.sizing.gpus if self.sizing else int(self.gpu)

    @property
    def prefix(self) -> str:
        """The name prefix of every resource of this version."""
        return f"{self.name}-v{version_label(self.version)}-"


def templates() -> Traversable:
    """The packaged templates folder (base, components, overlays, monitoring)."""
    return resources.files("servekit.k8s").joinpath("templates")


def parse_image(image: str) -> dict[str, str]:
    """Split ``image`` into kustomize's ``newName`` and ``newTag`` or ``digest``."""
    name, digest = image.partition("@")[::2]
    if digest:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise ConfigError(f"--image {image!r}: a digest is sha256: and 64 hex digits")
        return {"newName": name, "digest": digest}
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon <= slash:
        raise ConfigError(
            f"--image {image!r} has no tag: give one (or a digest), so that each "
            "rollout names exactly what it runs"
        )
    name, tag = image[:colon], image[colon + 1 :]
    if not name or tag == "latest" or not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
        raise ConfigError(f"--image {image!r}: give a fixed tag (not latest) or a digest")
    return {"newName": name, "newTag": tag}


def _ingress_patches(release: Release) -> list[dict[str, object]]:
    path = f"/models/{release.name}/{release.version}"
    patches = [patch("Middleware", [replace("/spec/stripPrefix/prefixes/0", path)])]
    if release.ingress == "traefik":
        match = f"PathPrefix(`{path}/`)"
        patches.append(patch("IngressRoute", [replace("/spec/routes/0/match", match)]))
    else:
        middleware = f"{release.namespace or 'default'}-{release.prefix}servekit-strip-prefix"
        key = "traefik.ingress.kubernetes.io~1router.middlewares"
        patches.append(
            patch(
                "Ingress",
                [
                    replace("/spec/rules/0/http/paths/0/path", f"{path}/"),
                    replace(f"/metadata/annotations/{key}", f"{middleware}@kubernetescrd"),
                ],
            )
        )
    return patches


def kustomization(release: Release) -> dict[str, object]:
    """The kustomization of ``release`` (paths relative to the folder it is written in)."""
    check(release)
    components = [
        f"templates/components/{part}"
        for part, wanted in (
            ("async-workers", release.async_workers),
            ("gpu", release.gpus > 0),  # after async-workers: its patch reaches the workers
            (f"ingress-path/{release.ingress}", release.ingress is not None),
        )
        if wanted
    ]
    captured = (
        monitoring_parts(release.monitoring, release.name, release.version)
        if release.monitoring
        else ([], [])
    )
    components += captured[0]  # after async-workers: the files component reaches the workers
    image = parse_image(release.image)
    patches = _ingress_patches(release) if release.ingress else []
    generators = [
        {
            "name": "servekit-settings",
            "behavior": "merge",
            "literals": [
                f"SERVEKIT_MODEL_NAME={release.name}",
                f"SERVEKIT_MODEL_VERSION={release.version}",
                *(f"{key}={value}" for key, value in release.settings),
            ],
        }
    ]
    if release.sizing:
        processes = dict(release.settings).get("SERVEKIT_PROCESSES")
        shape = release.sizing
        patches += sizing_patches(shape, processes or str(shape.processes), release.async_workers)
    patches += mount_patches(release.secret_env, release.volumes, release.async_workers)
    patches += captured[1]
    if release.async_workers:
        stream = f"servekit:{release.name}:{release.version}:stream"
        trigger = [replace("/spec/triggers/0/metadata/stream", stream)]
        if release.redis_url:
            address, metadata = redis_target(release.redis_url)
            trigger += [add(f"/spec/triggers/0/metadata/{k}", v) for k, v in metadata.items()]
            # A patch, not a generator merge: that ConfigMap comes from a component.
            store = [
                replace("/data/SERVEKIT_ASYNC_STORE", release.redis_url),
                replace("/data/REDIS_ADDRESS", address),
            ]
            patches.append(patch("ConfigMap", store, name="servekit-async"))
        patches.append(patch("ScaledObject", trigger))
    document: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if release.namespace:
        document["namespace"] = release.namespace
    document["namePrefix"] = release.prefix
    instance = release.prefix[:-1]
    document["labels"] = [
        {
            "pairs": {
                "app.kubernetes.io/name": release.name,
                "app.kubernetes.io/instance": instance,
            },
            "includeSelectors": True,
        },
        {"pairs": {"app.kubernetes.io/version": release.version}, "includeTemplates": True},
    ]
    document["resources"] = ["templates/base"] + (
        ["canary-httproute.yaml"] if release.canary else []
    )
    if components:
        document["components"] = components
    document["images"] = [{"name": base, **image} for base in _BASE_IMAGES]
    document["configMapGenerator"] = generators
    if patches:
        document["patches"] = patches
    return document


def canary_route(release: Release) -> dict[str, object]:
    """A Gateway API HTTPRoute splitting ``/models/<name>/`` between this version and the
    other (rendered on its own, with the same name): its Service keeps its full name."""
    assert release.canary is not None
    other, weight = release.canary
    backend = f"{release.name}-v{version_label(other)}-servekit"
    rule = {
        "matches": [
            {"path": {"type": "PathPrefix", "value": _PREDICT_ROUTE.format(name=release.name)}}
        ],
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
        ],
        "backendRefs": [
            {"name": "servekit", "port": 80, "weight": 100 - weight},
            {"name": backend, "port": 80, "weight": weight},
        ],
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "route"},
        "spec": {"parentRefs": [{"name": "servekit-gateway"}], "rules": [rule]},
    }


def write_kustomization(folder: Path, document: dict[str, object], name: str, version: str) -> Path:
    """Write ``document`` as ``folder/kustomization.yaml`` (marked as servekit's) with a
    fresh copy of the templates in ``folder/templates``; the file written. A
    kustomization.yaml there not written by servekit is kept: error."""
    target = folder / "kustomization.yaml"
    if target.exists() and not target.read_text(encoding="utf-8").startswith(_MARKER):
        raise ConfigError(f"{target} exists and was not written by servekit: not replaced")
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "templates"
    if copy.exists():
        shutil.rmtree(copy)
    with resources.as_file(templates()) as source:
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    header = (
        f"{_MARKER} for {name} version {version}: rendering again replaces\n"
        "# this file and templates/. Keep your own changes in another kustomization that\n"
        "# lists this folder in its resources (or use --set).\n"
    )
    target.write_text(header + to_yaml(document), encoding="utf-8")
    return target


def render(release: Release, folder: Path) -> list[Path]:
    """Write ``release``'s kustomization and a copy of the templates into ``folder``;
    the files written. A kustomization.yaml there not written by servekit is kept: error."""
    document = kustomization(release)
    written = [write_kustomization(folder, document, release.name, release.version)]
    route = folder / "canary-httproute.yaml"
    if release.canary:
        route.write_text(to_yaml(canary_route(release)), encoding="utf-8")
        written.append(route)
    elif route.exists():
        route.unlink()
    return written
