"""The model-level kustomization: one folder per model, beside its versions' folders,
routing ``/models/<name>/latest/...`` and ``/models/<name>/...`` to the version marked
latest, and a weighted share of them to a canary.

``servekit k8s render`` writes or updates it (:func:`write_model`), ``servekit k8s
promote`` rewrites it (:mod:`servekit.k8s.promote`); neither touches the version folders.
What it records (:class:`ModelState`: the latest version, the canary and its weight, the
versions promoted before, the versions rendered) is a JSON comment line of its
``kustomization.yaml``, and the routes carry it as ``servekit/...`` annotations.

The routes strip the prefix (``/models/churn/latest/model`` and ``/models/churn/model``
reach the pod as ``/model``), as the version routes do. Forms: a Gateway API HTTPRoute
(default), a Traefik IngressRoute with a weighted TraefikService (``--ingress traefik``),
or a plain Ingress (``--ingress ingress``), which has no weights: latest only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from servekit.errors import ConfigError
from servekit.k8s._yaml import to_yaml
from servekit.k8s.checks import version_label

if TYPE_CHECKING:
    from servekit.k8s.render import Release

__all__ = ["ModelState", "add_version", "model_folder", "read_model", "routes", "write_model"]

_MARKER = "# Written by `servekit k8s render` for the model"
_STATE = "# servekit-model: "
_STRIP = "traefik.ingress.kubernetes.io/router.middlewares"


@dataclass
class ModelState:
    """Where a model's traffic goes, as its kustomization records it."""

    name: str
    latest: str
    """The version that ``/models/<name>/latest/`` and ``/models/<name>/`` serve."""
    canary: tuple[str, int] | None = None
    """(version, percent of those routes' traffic it gets), or none."""
    history: list[str] = field(default_factory=list)
    """The versions that were latest before, oldest first (``--rollback`` pops one)."""
    versions: list[str] = field(default_factory=list)
    """The versions rendered (their folders exist beside this one)."""
    form: str = "gateway"
    """``gateway`` (HTTPRoute), ``traefik`` (IngressRoute) or ``ingress`` (Ingress)."""
    namespace: str | None = None

    def weights(self) -> dict[str, int]:
        """version -> percent of the traffic, the versions that get none left out."""
        if self.canary is None:
            return {self.latest: 100}
        other, weight = self.canary
        return {v: w for v, w in ((self.latest, 100 - weight), (other, weight)) if w}


def model_folder(version_folder: Path, name: str) -> Path:
    """The model's folder beside a version's (``k8s/churn-v3`` -> ``k8s/churn``)."""
    folder = Path(os.path.normpath(version_folder))
    return (folder.parent if folder.name not in ("", "..") else folder.resolve().parent) / name


def read_model(folder: Path) -> ModelState | None:
    """The state recorded in ``folder``'s kustomization, ``None`` when there is none; a
    kustomization that servekit did not write is a :class:`ConfigError`."""
    target = folder / "kustomization.yaml"
    if not target.exists():
        return None
    lines = target.read_text(encoding="utf-8").splitlines()
    recorded = [line[len(_STATE) :] for line in lines if line.startswith(_STATE)]
    if not lines or not lines[0].startswith(_MARKER) or len(recorded) != 1:
        raise ConfigError(f"{target} was not written by servekit: not replaced")
    data = json.loads(recorded[0])
    data["canary"] = tuple(data["canary"]) if data["canary"] else None
    return ModelState(**data)


def _service(state: ModelState, version: str) -> str:
    return f"{state.name}-v{version_label(version)}-servekit"


def routes(state: ModelState) -> list[dict[str, object]]:
    """The route objects of ``state``'s form."""
    name, weights = state.name, state.weights()
    annotations = {"servekit/latest": state.latest}
    if state.canary:
        annotations |= {
            "servekit/canary": state.canary[0],
            "servekit/canary-weight": str(state.canary[1]),
        }
    prefixes = [f"/models/{name}/latest", f"/models/{name}"]
    meta = {"name": f"{name}-latest", "annotations": annotations}
    if state.form == "gateway":
        rewrite = {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
        backends = [
            {"name": _service(state, v), "port": 80, "weight": w} for v, w in weights.items()
        ]
        rules = [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
                "filters": [{"type": "URLRewrite", "urlRewrite": {"path": rewrite}}],
                "backendRefs": backends,
            }
            for prefix in prefixes
        ]
        spec = {"parentRefs": [{"name": "servekit-gateway"}], "rules": rules}
        return [_object("gateway.networking.k8s.io/v1", "HTTPRoute", meta, spec)]
    # Traefik's stripPrefix strips the first prefix that matches: latest first.
    strip = {"name": f"{name}-latest-strip"}
    documents = [
        _object("traefik.io/v1alpha1", "Middleware", strip, {"stripPrefix": {"prefixes": prefixes}})
    ]
    if state.form == "traefik":
        weighted = [
            {"name": _service(state, v), "port": "http", "weight": w} for v, w in weights.items()
        ]
        route = {
            "kind": "Rule",
            "match": f"PathPrefix(`/models/{name}/`)",
            "middlewares": [strip],
            "services": [{"kind": "TraefikService", "name": f"{name}-latest"}],
        }
        spec = {"entryPoints": ["websecure"], "routes": [route], "tls": {}}
        documents += [
            _object(
                "traefik.io/v1alpha1", "TraefikService", meta, {"weighted": {"services": weighted}}
            ),
            _object("traefik.io/v1alpha1", "IngressRoute", meta, spec),
        ]
        return documents
    (version,) = weights  # a plain Ingress has no weights: promote refuses a canary
    middleware = f"{state.namespace or 'default'}-{name}-latest-strip@kubernetescrd"
    ingress_meta = {
        **meta,
        "annotations": {
            **annotations,
            "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
            "traefik.ingress.kubernetes.io/router.tls": "true",
            _STRIP: middleware,
        },
    }
    backend = {"service": {"name": _service(state, version), "port": {"name": "http"}}}
    path = {"path": f"/models/{name}/", "pathType": "Prefix", "backend": backend}
    spec = {"ingressClassName": "traefik", "rules": [{"http": {"paths": [path]}}]}
    documents.append(_object("networking.k8s.io/v1", "Ingress", ingress_meta, spec))
    return documents


def _object(
    api: str, kind: str, metadata: Mapping[str, object], spec: Mapping[str, object]
) -> dict[str, object]:
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}


def write_model(folder: Path, state: ModelState) -> list[Path]:
    """Write ``state``'s kustomization and routes into ``folder``; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    recorded = {**asdict(state), "canary": list(state.canary) if state.canary else None}
    document: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if state.namespace:
        document["namespace"] = state.namespace
    document["labels"] = [
        {"pairs": {"app.kubernetes.io/name": state.name, "app.kubernetes.io/part-of": "servekit"}}
    ]
    document["resources"] = ["routes.yaml"]
    header = (
        f"{_MARKER} {state.name}: its routes /models/{state.name}/latest/ and "
        f"/models/{state.name}/.\n# `servekit k8s render` adds versions, `servekit k8s "
        "promote` moves traffic; both rewrite this folder (not the versions' folders).\n"
        f"{_STATE}{json.dumps(recorded, separators=(',', ':'))}\n"
    )
    target = folder / "kustomization.yaml"
    target.write_text(header + to_yaml(document), encoding="utf-8")
    written = folder / "routes.yaml"
    written.write_text("---\n".join(to_yaml(d) for d in routes(state)), encoding="utf-8")
    return [target, written]


def add_version(folder: Path, release: Release) -> list[Path]:
    """Record ``release``'s version in its model's folder (created with it as latest when
    there is none) and write the routes again, in the form of ``release.ingress``."""
    state = read_model(folder) or ModelState(release.name, release.version)
    if state.name != release.name:
        raise ConfigError(f"{folder} routes the model {state.name!r}, not {release.name!r}")
    if release.version not in state.versions:
        state.versions.append(release.version)
    state.form = release.ingress or "gateway"
    state.namespace = release.namespace
    if state.form == "ingress" and state.canary:
        raise ConfigError(
            f"{folder} has a canary ({state.canary[0]} at {state.canary[1]}%), which a plain "
            "Ingress cannot weigh: promote or roll it back first, or use traefik"
        )
    return write_model(folder, state)
