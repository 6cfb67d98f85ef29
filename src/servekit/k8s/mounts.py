"""``--secret-env`` and ``--volume``: environment variables from the user's Secrets and
read-only data volumes, strictly checked, and the patches that add them to every pod
that runs the model (the HTTP pods, and the job workers with ``--async``). Pure.

Pod Security: Secret-backed variables and PersistentVolumeClaims keep the restricted
level; a ``hostPath`` volume leaves it (baseline forbids it too), which the README says.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass

from servekit.errors import ConfigError
from servekit.k8s._patches import add, container_patch, patch

__all__ = [
    "ENV_SKIP",
    "SecretEnv",
    "Volume",
    "check_mounts",
    "mount_patches",
    "parse_secret_env",
    "parse_volume",
]

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_TAKEN_VOLUMES = ("tmp", "access-tokens")
"""The templates' own volumes."""
ENV_SKIP = (
    "CKV_K8S_35=--secret-env asked for these variables: the model reads them from its "
    "environment (as Domino's models do); mount the Secret as a file in your own "
    "kustomization where the code can read files instead."
)
"""checkov's reason, on the Deployments (and KServe's pods), for Secrets in the environment."""
_KEPT_PATHS = ("/tmp", "/etc/servekit/secrets", "/srv/model", "/proc", "/sys", "/dev")
"""Where a volume may not go, nor above: the templates' mounts, the model, the kernel's."""


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable from a key of a Secret (``secretKeyRef``)."""

    name: str
    secret: str
    key: str


@dataclass(frozen=True)
class Volume:
    """A volume mounted into the model's containers: a PVC or a node's directory."""

    name: str
    kind: str
    """``pvc`` (``source`` is the claim's name) or ``hostPath`` (the node's directory)."""
    source: str
    mount: str
    read_only: bool = True


def parse_secret_env(text: str) -> SecretEnv:
    """``NAME=SECRET/KEY`` of ``--secret-env``."""
    name, sep, ref = text.partition("=")
    secret, slash, key = ref.partition("/")
    if not sep or not slash or not _ENV.fullmatch(name):
        raise ConfigError(
            f"--secret-env {text!r}: expected NAME=SECRET/KEY, an environment variable "
            "from a key of a Secret, e.g. --secret-env DB_PASSWORD=churn-db/password"
        )
    if len(secret) > 253 or not _SUBDOMAIN.fullmatch(secret):
        raise ConfigError(f"--secret-env {name}: {secret!r} is not a Secret's name")
    if not _KEY.fullmatch(key) or key in (".", ".."):
        raise ConfigError(f"--secret-env {name}: {key!r} is not a Secret key ([-._a-zA-Z0-9])")
    return SecretEnv(name, secret, key)


def _path(what: str, path: str) -> str:
    if not path.startswith("/") or posixpath.normpath(path) != path or path == "/":
        raise ConfigError(f"--volume: {what} {path!r} must be an absolute, normal path, not /")
    return path


def parse_volume(text: str) -> Volume:
    """``NAME=pvc:CLAIM:/mount[:ro|:rw]`` or ``NAME=hostPath:/path:/mount[:ro]`` of
    ``--volume``: read-only unless ``:rw`` (a PVC only)."""
    name, sep, spec = text.partition("=")
    parts = spec.split(":")
    if not sep or len(parts) not in (3, 4) or parts[0] not in ("pvc", "hostPath"):
        raise ConfigError(
            f"--volume {text!r}: expected NAME=pvc:CLAIM:/MOUNT[:ro|:rw] or "
            "NAME=hostPath:/PATH:/MOUNT[:ro], e.g. --volume data=pvc:churn-data:/data"
        )
    kind, source, mount, mode = (*parts, "ro")[:4]
    if not _LABEL.fullmatch(name) or name in _TAKEN_VOLUMES:
        raise ConfigError(
            f"--volume {text!r}: {name!r} must be a DNS label (lower-case letters, digits, "
            f"'-'), not one of the templates' ({', '.join(_TAKEN_VOLUMES)})"
        )
    if mode not in ("ro", "rw") or (kind == "hostPath" and mode == "rw"):
        raise ConfigError(
            f"--volume {name}: {mode!r}: a hostPath is read-only (:ro; a writable one lets "
            "a pod change the node's files), a pvc :ro or :rw"
        )
    if kind == "pvc" and (len(source) > 253 or not _SUBDOMAIN.fullmatch(source)):
        raise ConfigError(f"--volume {name}: {source!r} is not a PersistentVolumeClaim's name")
    if kind == "hostPath":
        _path("the node's path", source)
    _path("the mount path", mount)
    for kept in _KEPT_PATHS:
        if kept == mount or kept.startswith(mount + "/") or mount.startswith(kept + "/"):
            raise ConfigError(
                f"--volume {name}: {mount} would cover or sit in {kept}, which the pod "
                "needs as it is (the model, /tmp, the tokens, the kernel's): mount elsewhere"
            )
    return Volume(name, kind, source, mount, mode == "ro")


def check_mounts(
    secret_env: tuple[SecretEnv, ...], volumes: tuple[Volume, ...], taken: dict[str, str]
) -> None:
    """Refuse a variable given twice or set by another option (``taken``: name -> which),
    and volumes that share a name or whose mount paths nest."""
    names = [entry.name for entry in secret_env]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"--secret-env {name} is given more than once")
        if name in taken:
            raise ConfigError(f"--secret-env {name}: set by {taken[name]} already")
    for index, volume in enumerate(volumes):
        for other in volumes[:index]:
            if other.name == volume.name:
                raise ConfigError(f"--volume {volume.name} is given more than once")
            a, b = sorted((other.mount, volume.mount))
            if a == b or b.startswith(a + "/"):
                raise ConfigError(f"--volume {other.name} and {volume.name}: {a} and {b} nest")


def mount_patches(
    secret_env: tuple[SecretEnv, ...], volumes: tuple[Volume, ...], workers: bool
) -> list[dict[str, object]]:
    """Patches adding the variables and volumes to the HTTP pods (and the job workers)."""
    patches = []
    if secret_env:
        env = [
            {"name": e.name, "valueFrom": {"secretKeyRef": {"name": e.secret, "key": e.key}}}
            for e in secret_env
        ]
        components = ("server", "worker") if workers else ("server",)
        patches += [container_patch(component, {"env": env}) for component in components]
        annotated = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "any", "annotations": {"checkov.io/skip2": ENV_SKIP}},
        }
        patches.append({"target": {"kind": "Deployment"}, "patch": json.dumps(annotated)})
    if volumes:
        operations = []
        for volume in volumes:
            source: dict[str, object] = (
                {
                    "persistentVolumeClaim": {
                        "claimName": volume.source,
                        "readOnly": volume.read_only,
                    }
                }
                if volume.kind == "pvc"
                else {"hostPath": {"path": volume.source, "type": "Directory"}}
            )
            mount = {"name": volume.name, "mountPath": volume.mount, "readOnly": volume.read_only}
            operations += [
                add("/spec/template/spec/volumes/-", {"name": volume.name, **source}),
                add("/spec/template/spec/containers/0/volumeMounts/-", mount),
            ]
        patches.append(patch("Deployment", operations))
    return patches
