"""Hardware tiers: what a pod gets (CPU, memory, GPUs, nodes) and how many pods.

A tiers file (``templates/tiers.ini`` by default, or the user's, which replaces it) names
tiers as INI sections; :func:`load_tiers` reads and checks it, :func:`sizing` applies the
command line's overrides to the chosen tier, and :func:`sizing_patches` turns the result
into kustomize patches: the containers' resources and processes, the pods' node selector
and tolerations, the HPA's bounds and a PodDisruptionBudget that fits them. Only
:func:`load_tiers` does I/O (it reads the file).
"""

from __future__ import annotations

import configparser
import math
from dataclasses import dataclass, replace
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s._patches import add, container_patch, patch
from servekit.k8s._patches import replace as replace_op
from servekit.k8s._quantities import (
    parse_bounds,
    parse_cpu,
    parse_node_selector,
    parse_replicas,
    parse_resource,
    parse_tolerations,
)

__all__ = [
    "BASE",
    "GPU",
    "Sizing",
    "container_resources",
    "default_tiers_file",
    "load_tiers",
    "pod_tolerations",
    "sizing",
    "sizing_patches",
]

_KEYS = {"description", "cpu", "memory", "gpus", "replicas", "node-selector", "tolerations"}
_REQUIRED = ("cpu", "memory", "replicas")
_EPHEMERAL = {"requests": "100Mi", "limits": "1Gi"}
"""The base's ephemeral-storage, kept with any tier (the /tmp emptyDir is 512Mi)."""


@dataclass(frozen=True)
class Sizing:
    """A pod's resources and scheduling, and the HPA's bounds."""

    cpu: tuple[str, str]
    """(request, limit) in cores, as Kubernetes writes them (``"500m"``, ``"2"``)."""
    memory: tuple[str, str]
    """(request, limit) (``"2Gi"``)."""
    gpus: int = 0
    min_replicas: int = 2
    max_replicas: int = 10
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[str, str, str], ...] = ()
    """(key, value or ``""`` for any, effect)."""

    @property
    def processes(self) -> int:
        """uWSGI processes per pod: one per GPU, else one per whole core of the limit."""
        return self.gpus or max(1, math.floor(parse_cpu(self.cpu[1]) / 1000))

    @property
    def max_unavailable(self) -> int:
        """The PDB's: a quarter of the minimum, at least 1 (a drain is never blocked)."""
        return max(1, self.min_replicas // 4)


BASE = Sizing(cpu=("500m", "2"), memory=("512Mi", "2Gi"))
"""What templates/base sets (a test checks it)."""
GPU = Sizing(
    cpu=("2", "4"),
    memory=("8Gi", "16Gi"),
    gpus=1,
    tolerations=(("nvidia.com/gpu", "", "NoSchedule"),),
)
"""What templates/components/gpu sets (a test checks it)."""


def default_tiers_file() -> Path:
    """The tiers file shipped with the templates."""
    from servekit.k8s.render import templates

    return Path(str(templates().joinpath("tiers.ini")))


def load_tiers(path: Path | None = None) -> dict[str, Sizing]:
    """The tiers of ``path`` (default: the shipped file), each checked; a
    :class:`ConfigError` names the file, the tier and the key that is wrong."""
    path = path or default_tiers_file()
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, configparser.Error) as exc:
        raise ConfigError(f"--tiers {path}: {exc}") from None
    tiers = {}
    for name in parser.sections():
        section = parser[name]
        unknown = set(section) - _KEYS
        missing = [key for key in _REQUIRED if key not in section]
        if unknown or missing:
            wrong = f"unknown keys {sorted(unknown)}" if unknown else f"no {', '.join(missing)}"
            raise ConfigError(f"{path}: tier [{name}]: {wrong} (keys: {', '.join(sorted(_KEYS))})")
        try:
            low, high = parse_replicas(section["replicas"])
            gpus = section.get("gpus", "0").strip()
            if not gpus.isdigit():
                raise ConfigError(f"gpus {gpus!r}: a count (0, 1, 2...)")
            tiers[name] = Sizing(
                cpu=parse_resource("cpu", section["cpu"]),
                memory=parse_resource("memory", section["memory"]),
                gpus=int(gpus),
                min_replicas=low,
                max_replicas=high,
                node_selector=parse_node_selector(section.get("node-selector", "")),
                tolerations=parse_tolerations(section.get("tolerations", "")),
            )
        except ConfigError as exc:
            raise ConfigError(f"{path}: tier [{name}]: {exc}") from None
    if not tiers:
        raise ConfigError(f"--tiers {path}: no tier in it ([NAME] sections)")
    return tiers


def sizing(
    tier: Sizing | None,
    *,
    gpu: bool = False,
    cpu: str | None = None,
    memory: str | None = None,
    gpus: int | None = None,
    replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
) -> Sizing | None:
    """``tier`` with the command line's overrides; ``None`` when neither a tier nor an
    override is given (the templates' own values stand). Without a tier the overrides
    apply to the base's values, or to the gpu component's with ``gpu``."""
    overrides = (cpu, memory, gpus, replicas, min_replicas, max_replicas)
    if tier is None and all(value is None for value in overrides):
        return None
    if replicas is not None and (min_replicas is not None or max_replicas is not None):
        raise ConfigError("--replicas is exact: give it, or --min-replicas / --max-replicas")
    chosen = tier or (GPU if gpu or gpus else BASE)
    if gpus is not None and gpus < 0:
        raise ConfigError(f"--gpus {gpus}: a count (0, 1, 2...)")
    low = replicas or min_replicas or chosen.min_replicas
    high = replicas or max_replicas or max(chosen.max_replicas, low)
    return replace(
        chosen,
        cpu=parse_resource("cpu", cpu) if cpu else chosen.cpu,
        memory=parse_resource("memory", memory) if memory else chosen.memory,
        gpus=max(gpus if gpus is not None else chosen.gpus, 1 if gpu else 0),
        min_replicas=parse_bounds(low, high)[0],
        max_replicas=high,
    )


def container_resources(shape: Sizing) -> dict[str, dict[str, str]]:
    """A container's ``resources`` for ``shape`` (the base's ephemeral storage kept)."""
    gpus = {"nvidia.com/gpu": str(shape.gpus)} if shape.gpus else {}
    return {
        kind: {
            "cpu": shape.cpu[index],
            "memory": shape.memory[index],
            "ephemeral-storage": _EPHEMERAL[kind],
            **gpus,
        }
        for index, kind in enumerate(("requests", "limits"))
    }


def pod_tolerations(shape: Sizing) -> list[dict[str, str]]:
    """A pod's ``tolerations`` for ``shape``: its own, and NVIDIA's taint with GPUs."""
    tolerations = [
        {"key": key, "operator": "Equal", "value": value, "effect": effect}
        if value
        else {"key": key, "operator": "Exists", "effect": effect}
        for key, value, effect in shape.tolerations
    ]
    if shape.gpus and not any(key == "nvidia.com/gpu" for key, _, _ in shape.tolerations):
        tolerations.append({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
    return tolerations


def sizing_patches(shape: Sizing, processes: str, workers: bool) -> list[dict[str, object]]:
    """The patches that give every Deployment ``shape`` (the job workers too, with
    ``workers``) and ``processes`` uWSGI processes, and the HPA and PDB its bounds."""
    pod = "/spec/template/spec"
    operations: list[dict[str, object]] = [
        replace_op(f"{pod}/containers/0/resources", container_resources(shape))
    ]
    if shape.node_selector:
        operations.append(add(f"{pod}/nodeSelector", dict(shape.node_selector)))
    tolerations = pod_tolerations(shape)
    if tolerations:
        operations.append(add(f"{pod}/tolerations", tolerations))
    patches = [
        patch("Deployment", operations),
        patch(
            "HorizontalPodAutoscaler",
            [
                replace_op("/spec/minReplicas", shape.min_replicas),
                replace_op("/spec/maxReplicas", shape.max_replicas),
            ],
            name="servekit",
        ),
        patch(  # the HTTP pods' (the job workers' is KEDA's business)
            "PodDisruptionBudget",
            [replace_op("/spec/maxUnavailable", shape.max_unavailable)],
            name="servekit",
        ),
        # A patch, not a generator merge: the gpu component's merge would win over ours.
        patch(
            "ConfigMap",
            [replace_op("/data/SERVEKIT_PROCESSES", processes)],
            name="servekit-settings",
        ),
    ]
    if workers:  # their env wins over the ConfigMap
        env = [{"name": "SERVEKIT_PROCESSES", "value": processes}]
        patches.append(container_patch("worker", {"env": env}))
    return patches
