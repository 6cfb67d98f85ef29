"""``servekit k8s render --kserve``: one model on KServe, as a kustomization of the
templates in ``kserve/``: servekit's ServingRuntime (or ClusterServingRuntime), an
InferenceService of the model's format and a NetworkPolicy for its pods. Pure but for
:func:`render_kserve`, which writes the folder.

Names: the InferenceService is ``NAME`` (the name KServe's clients give in
``/v2/models/NAME/...``; KServe names its Deployment and Service ``NAME-predictor``), its
runtime and NetworkPolicy ``NAME-servekit``. A version is not in the names: KServe keeps one
InferenceService per model and rolls its pods to each version applied, so applying the
folder of another version (rendered into its own folder) moves the model to it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from servekit.errors import ConfigError, LoadError
from servekit.k8s._patches import add, patch, replace
from servekit.k8s.checks import parse_setting, version_label
from servekit.k8s.mounts import ENV_SKIP, SecretEnv, check_mounts
from servekit.k8s.render import parse_image, write_kustomization
from servekit.k8s.tiers import GPU, Sizing, container_resources, pod_tolerations
from servekit.runtimes.registry import parse_target
from servekit.settings import Settings, env_name

__all__ = [
    "MODEL_DIR",
    "KServeRelease",
    "default_folder",
    "kserve_kustomization",
    "model_format",
    "refused_options",
    "render_kserve",
]

MODEL_DIR = "/mnt/models"
"""Where KServe's storage initializer puts what ``storageUri`` names (the runtime's
SERVEKIT_PROJECT_DIR)."""
_DNS_1035 = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_VERSION = re.compile(r"^[a-z0-9]([a-z0-9.]*[a-z0-9])?$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
_LONGEST_SUFFIX = "-predictor"
"""KServe names the Deployment and Service ``NAME-predictor`` (63 characters at most)."""
_OWNED = {
    "SERVEKIT_TARGET": "--target",
    "SERVEKIT_PROJECT_DIR": f"the runtime ({MODEL_DIR}, where KServe puts the model)",
    "SERVEKIT_MODEL_ID": "the runtime (the InferenceService's name)",
    "SERVEKIT_GRPC_PORT": "the runtime (its port h2c)",
    "PYTHONPATH": "KServe, which refuses it in an InferenceService",
}
"""Settings the runtime or the options set, beyond those of every render."""
_REFUSED = {
    "async_workers": "--async",
    "canary": "--canary",
    "ingress": "--ingress",
    "redis_url": "--redis-url",
    "volume": "--volume",
    "model_dir": "--model-dir",
    "capture": "--capture",
    "capture_sample": "--capture-sample",
    "monitor_schedule": "--monitor-schedule",
    "baseline": "--baseline",
    "thresholds": "--thresholds",
    "monitor_window": "--monitor-window",
    "monitor_image": "--monitor-image",
}
"""The other renders' options that --kserve does not take: KServe makes the Deployment,
Service and routes itself."""


@dataclass(frozen=True)
class KServeRelease:
    """One model on KServe: what to render."""

    name: str
    """The InferenceService's name: the model's name for KServe's clients."""
    version: str
    """``SERVEKIT_MODEL_VERSION`` and the ``app.kubernetes.io/version`` label."""
    image: str
    """The runtime's image: a servekit base image, or one built FROM it (tag or digest)."""
    storage_uri: str
    """What KServe's storage initializer copies into /mnt/models (``s3://...``, ``gs://...``,
    ``pvc://...``...)."""
    target: str = "model.onnx"
    """What servekit serves, relative to /mnt/models: ``model.onnx`` or a servekit
    TARGET (``model.py:predict``)."""
    cluster_runtime: bool = False
    """A ClusterServingRuntime instead of a ServingRuntime in the namespace."""
    namespace: str | None = None
    settings: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[SecretEnv, ...] = ()
    sizing: Sizing | None = None
    """The pod's resources, nodes and replica bounds; ``None``: the templates'."""
    gpu: bool = False

    @property
    def runtime(self) -> str:
        """The runtime's name."""
        return f"{self.name}-servekit"

    @property
    def shape(self) -> Sizing | None:
        """``sizing``, or the gpu component's with ``gpu`` and no other choice."""
        return self.sizing or (GPU if self.gpu else None)


def model_format(target: str) -> str:
    """The KServe model format of a TARGET: ``onnx`` for a ``.onnx`` file, else
    ``servekit`` (a servekit project: a Python or R file, or a module)."""
    try:
        parsed = parse_target(target, MODEL_DIR)
    except LoadError as exc:
        raise ConfigError(f"--target: {exc}") from None
    if parsed.path is not None:
        inside = PurePosixPath(MODEL_DIR)
        resolved = PurePosixPath(str(parsed.path))
        if resolved != inside and inside not in resolved.parents:
            raise ConfigError(
                f"--target {target!r} is outside {MODEL_DIR}, where KServe puts the model: "
                f"name it relative to {MODEL_DIR} (model.py:predict)"
            )
    return "onnx" if parsed.runtime == "onnx" else "servekit"


def _check(release: KServeRelease) -> str:
    """Raise :class:`ConfigError` for what cannot be rendered; the model's format."""
    if not _DNS_1035.fullmatch(release.name):
        raise ConfigError(
            f"--name {release.name!r}: lower-case letters, digits and '-', starting with a "
            "letter and ending with a letter or digit (an InferenceService's name, DNS-1035)"
        )
    longest = release.name + _LONGEST_SUFFIX
    if len(longest) > 63:
        raise ConfigError(
            f"--name {release.name!r}: KServe names its Service {longest!r} ({len(longest)} "
            "characters): Kubernetes allows 63; shorten it"
        )
    if not _VERSION.fullmatch(release.version):
        raise ConfigError(
            f"--version {release.version!r}: lower-case letters, digits and '.' (not first or last)"
        )
    if release.namespace is not None and not _DNS_LABEL.fullmatch(release.namespace):
        raise ConfigError(f"--namespace {release.namespace!r} is not a Kubernetes name")
    if not _URI.fullmatch(release.storage_uri):
        raise ConfigError(
            f"--storage-uri {release.storage_uri!r}: a URI KServe's storage initializer "
            "reads (s3://BUCKET/PATH, gs://..., pvc://CLAIM/PATH, https://..., hf://...)"
        )
    keys = [key for key, _ in release.settings]
    for key, value in release.settings:
        parse_setting(f"{key}={value}")
        if key in _OWNED:
            raise ConfigError(f"--set {key}: set by {_OWNED[key]}, not --set")
        if keys.count(key) > 1:
            raise ConfigError(f"--set {key} is given more than once")
    taken = {
        **_OWNED,
        "SERVEKIT_MODEL_NAME": "--name",
        "SERVEKIT_MODEL_VERSION": "--version",
        **dict.fromkeys(keys, "--set"),
    }
    check_mounts(release.secret_env, (), taken)
    known = {env_name(f.name) for f in dataclasses.fields(Settings)}
    for entry in release.secret_env:
        if entry.name.startswith("SERVEKIT_") and entry.name not in known:
            raise ConfigError(f"--secret-env {entry.name}: servekit has no such setting")
    return model_format(release.target)


def _env(release: KServeRelease, shape: Sizing | None) -> list[dict[str, object]]:
    """The InferenceService's env: KServe merges it over the runtime's, by name."""
    plain = [("SERVEKIT_TARGET", release.target), ("SERVEKIT_MODEL_VERSION", release.version)]
    given = dict(release.settings)
    if shape is not None and "SERVEKIT_PROCESSES" not in given:
        plain.append(("SERVEKIT_PROCESSES", str(shape.processes)))
    plain += list(release.settings)
    env: list[dict[str, object]] = [{"name": key, "value": value} for key, value in plain]
    env += [
        {"name": e.name, "valueFrom": {"secretKeyRef": {"name": e.secret, "key": e.key}}}
        for e in release.secret_env
    ]
    return env


def kserve_kustomization(release: KServeRelease) -> dict[str, object]:
    """The kustomization of ``release`` (paths relative to the folder it is written in)."""
    fmt = _check(release)
    kind = "ClusterServingRuntime" if release.cluster_runtime else "ServingRuntime"
    runtime_ops = [replace("/metadata/name", release.runtime)]
    model = "/spec/predictor/model"
    service_ops = [
        replace("/metadata/name", release.name),
        replace(f"{model}/runtime", release.runtime),
        replace(f"{model}/storageUri", release.storage_uri),
    ]
    selector = "/spec/podSelector/matchLabels/serving.kserve.io~1inferenceservice"
    policy_ops = [replace("/metadata/name", release.runtime), add(selector, release.name)]
    if release.namespace:
        if not release.cluster_runtime:  # a cluster-scoped object has none
            runtime_ops.append(add("/metadata/namespace", release.namespace))
        service_ops.append(add("/metadata/namespace", release.namespace))
        policy_ops.append(add("/metadata/namespace", release.namespace))
    shape = release.shape
    service_ops.append(replace(f"{model}/env", _env(release, shape)))
    if release.secret_env:  # KServe copies the predictor's annotations to its pods
        service_ops.append(add("/spec/predictor/annotations", {"checkov.io/skip2": ENV_SKIP}))
    if shape is not None:
        service_ops += [
            add(f"{model}/resources", container_resources(shape)),
            replace("/spec/predictor/minReplicas", shape.min_replicas),
            replace("/spec/predictor/maxReplicas", shape.max_replicas),
        ]
        if shape.node_selector:
            service_ops.append(add("/spec/predictor/nodeSelector", dict(shape.node_selector)))
        tolerations = pod_tolerations(shape)
        if tolerations:
            service_ops.append(add("/spec/predictor/tolerations", tolerations))
    image = parse_image(release.image)
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [
            {
                "pairs": {
                    "app.kubernetes.io/name": release.name,
                    "app.kubernetes.io/instance": release.name,
                    "app.kubernetes.io/version": release.version,
                }
            }
        ],
        "resources": [
            f"templates/kserve/{kind.lower()}.yaml",
            "templates/kserve/networkpolicy.yaml",
            f"templates/kserve/inferenceservice-{fmt}.yaml",
        ],
        "configurations": ["templates/kserve/kustomizeconfig.yaml"],
        "images": [{"name": base, **image} for base in ("servekit/cpu", "servekit/cuda")],
        "patches": [
            patch(kind, runtime_ops),
            patch("NetworkPolicy", policy_ops),
            patch("InferenceService", service_ops),
        ],
    }


def render_kserve(release: KServeRelease, folder: Path) -> list[Path]:
    """Write ``release``'s kustomization and a copy of the templates into ``folder``;
    the files written."""
    document = kserve_kustomization(release)
    return [write_kustomization(folder, document, release.name, release.version)]


def refused_options(given: dict[str, object]) -> list[str]:
    """The options of ``given`` (argparse's destinations, set) that --kserve refuses."""
    return [flag for dest, flag in _REFUSED.items() if given.get(dest)]


def default_folder(release: KServeRelease) -> Path:
    """``k8s/NAME-vVERSION``, as the other renders write."""
    return Path("k8s") / f"{release.name}-v{version_label(release.version)}"
