"""What ``servekit k8s render`` refuses, and the names and values it derives (pure).

:func:`check` validates a :class:`~servekit.k8s.render.Release` before anything is
written; :func:`version_label` is how a version appears in resource names;
:func:`parse_canary`, :func:`parse_setting` and :func:`redis_target` read ``--canary``,
``--set`` and ``--redis-url``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from servekit.errors import ConfigError
from servekit.k8s.monitoring import CAPTURE_DIR, OWNED, capture_url, check_monitoring
from servekit.k8s.mounts import check_mounts
from servekit.settings import Settings, env_name, parse_value

if TYPE_CHECKING:
    from servekit.k8s.render import Release

__all__ = [
    "check",
    "parse_canary",
    "parse_setting",
    "redis_target",
    "resource_names",
    "version_label",
]

_DNS_1035 = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_VERSION = re.compile(r"^[a-z0-9]([a-z0-9.]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_MAX_NAME = 63
_NAMED = ("servekit", "servekit-worker")
"""The Services' and Deployments' names in the templates, before the prefix."""
_OWNED = {
    env_name("model_name"): "--name",
    env_name("model_version"): "--version",
    env_name("async_store"): "--redis-url",
    "REDIS_ADDRESS": "--redis-url",
    env_name("port"): "the manifests (containerPort, probes)",
    env_name("metrics_port"): "the manifests (containerPort, scrape annotations)",
}
_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def version_label(version: str) -> str:
    """``version`` as it appears in names: ``3.1`` -> ``3-1`` (a version has no ``-``,
    so two versions never share names)."""
    return version.replace(".", "-")


def resource_names(name: str, version: str) -> list[str]:
    """The names of the Services and Deployments rendered for ``name`` ``version``."""
    return [f"{name}-v{version_label(version)}-{named}" for named in _NAMED]


def _check_names(release: Release) -> None:
    if not _DNS_1035.fullmatch(release.name):
        raise ConfigError(
            f"--name {release.name!r}: lower-case letters, digits and '-', starting with a "
            "letter and ending with a letter or digit (a Service name, DNS-1035)"
        )
    versions = (release.version, *(release.canary[:1] if release.canary else ()))
    for version in versions:
        if not _VERSION.fullmatch(version):
            raise ConfigError(
                f"version {version!r}: lower-case letters, digits and '.' (not first or "
                "last). Resource names write '.' as '-' (3.1 is NAME-v3-1-...), so a '-' "
                "or '_' is refused: 3.1 and 3-1 would get the same names"
            )
        for resource in resource_names(release.name, version):
            if len(resource) > _MAX_NAME:
                raise ConfigError(
                    f"--name and version make the name {resource!r} ({len(resource)} "
                    f"characters): Kubernetes allows {_MAX_NAME}; shorten them"
                )


def check(release: Release) -> None:
    """Raise :class:`ConfigError` for anything in ``release`` that cannot be rendered."""
    _check_names(release)
    if release.canary and release.canary[0] == release.version:
        raise ConfigError("--canary names this same version: give the other one")
    if release.ingress not in (None, "traefik", "ingress"):
        raise ConfigError(f"--ingress {release.ingress!r}: traefik or ingress")
    if release.namespace is not None and not _DNS_LABEL.fullmatch(release.namespace):
        raise ConfigError(f"--namespace {release.namespace!r} is not a Kubernetes name")
    if release.ingress == "ingress" and release.namespace is None:
        raise ConfigError(
            "--ingress ingress needs --namespace: Traefik's middleware annotation names "
            "the namespace (NS-NAME@kubernetescrd), which `kubectl apply -n` does not change"
        )
    keys = [key for key, _ in release.settings]
    for key, value in release.settings:
        parse_setting(f"{key}={value}")
        if keys.count(key) > 1:
            raise ConfigError(f"--set {key} is given more than once")
    taken = {**_OWNED, **{key: "--set" for key, _ in release.settings}}
    if release.monitoring:
        _check_monitoring(release)
        if release.monitoring.capture == "file":
            taken["POD_NAME"] = "--capture file (each pod's folder)"
    for key in keys:
        if key in OWNED:
            raise ConfigError(f"--set {key}: set by {OWNED[key]}, not --set")
    check_mounts(release.secret_env, release.volumes, taken)
    for entry in release.secret_env:
        if entry.name.startswith("SERVEKIT_") and entry.name not in _setting_fields():
            raise ConfigError(f"--secret-env {entry.name}: servekit has no such setting")
    if release.redis_url is not None:
        if not release.async_workers:
            raise ConfigError("--redis-url is the job store of --async: give --async too")
        redis_target(release.redis_url)


def _check_monitoring(release: Release) -> None:
    """--capture and the monitor's options, and --volume beside the capture's claim."""
    assert release.monitoring is not None
    check_monitoring(release.monitoring)
    if release.monitoring.capture != "file":
        capture_url(release.monitoring.capture, release.name, release.version)
        return
    for volume in release.volumes:
        a, b = sorted((volume.mount, CAPTURE_DIR))
        if volume.name == "capture" or a == b or b.startswith(a + "/"):
            raise ConfigError(
                f"--volume {volume.name}: --capture file mounts the volume 'capture' at "
                f"{CAPTURE_DIR}: use another name and a mount path outside it"
            )


def _setting_fields() -> dict[str, dataclasses.Field[object]]:
    return {env_name(f.name): f for f in dataclasses.fields(Settings)}


def parse_setting(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` of ``--set``: a servekit setting (``SERVEKIT_*``, its value checked)
    or another environment variable (``HOME``, ``HF_HOME``...)."""
    key, sep, value = text.partition("=")
    if not sep or not _ENV_NAME.fullmatch(key):
        raise ConfigError(
            f"--set {text!r}: expected KEY=VALUE with an environment variable name "
            "(upper case, digits, '_'), e.g. --set SERVEKIT_TIMEOUT=30"
        )
    if "\n" in value or "\r" in value:
        raise ConfigError(f"--set {key}: the value must be one line")
    if key in _OWNED:
        raise ConfigError(f"--set {key}: set by {_OWNED[key]}, not --set")
    if key.startswith("SERVEKIT_"):
        fields = _setting_fields()
        if key not in fields:
            raise ConfigError(f"--set {key}: servekit has no such setting (`servekit --help`)")
        field = fields[key]
        parse_value(field.name, _TYPES[str(field.type)], value)
    return key, value


def redis_target(url: str) -> tuple[str, dict[str, str]]:
    """``(host:port, KEDA trigger metadata)`` of a ``redis://`` or ``rediss://`` URL:
    KEDA reads the address, TLS and database index separately from servekit's URL."""
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigError(f"--redis-url {url!r}: {exc}") from None
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError(f"--redis-url {url!r}: expected redis://HOST[:PORT][/DB] (or rediss://)")
    if parts.password is not None:
        raise ConfigError(
            "--redis-url with a password would write it into a ConfigMap: put "
            "SERVEKIT_ASYNC_STORE in a Secret from your own kustomization instead"
        )
    database = parts.path.strip("/") or "0"
    if not database.isdigit():
        raise ConfigError(f"--redis-url {url!r}: the path is a database number (/0)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    metadata = {"databaseIndex": str(int(database))}
    if parts.scheme == "rediss":
        metadata["enableTLS"] = "true"
    return f"{host}:{port}", metadata


def parse_canary(text: str) -> tuple[str, int]:
    """``OTHER=WEIGHT`` -> (other version, WEIGHT percent of the traffic for it)."""
    other, sep, weight = text.partition("=")
    if not sep or not other or not weight.isdigit() or not 0 <= int(weight) <= 100:
        raise ConfigError(
            f"--canary {text!r}: expected OTHER=WEIGHT, the other version and the percent "
            "of the traffic it gets (0 to 100), e.g. --canary 2=10"
        )
    return other, int(weight)
