"""``servekit k8s render``'s options for a pod's shape (a tier, its overrides), its
Secret-backed environment and its volumes: the flags, and what they become."""

from __future__ import annotations

import argparse
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s.mounts import SecretEnv, Volume, parse_secret_env, parse_volume
from servekit.k8s.tiers import Sizing, default_tiers_file, load_tiers, sizing

__all__ = ["add_mount_arguments", "add_shape_arguments", "mounts", "shape"]


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number")
    return int(text)


def add_shape_arguments(parser: argparse.ArgumentParser) -> None:
    """--tier, --tiers and the overrides of one value of the tier."""
    try:
        names = ", ".join(load_tiers())
    except ConfigError:  # the help prints even with a broken tiers file
        names = "see the tiers file"
    group = parser.add_argument_group(
        "hardware tier and scale",
        "A tier sets the pods' CPU, memory, GPUs, node selector and tolerations and the "
        "autoscaler's bounds; each flag below overrides one value of it (without --tier, "
        "of the templates' own: 500m-2 cores, 512Mi-2Gi, 2-10 pods).",
    )
    group.add_argument(
        "--tier",
        metavar="NAME",
        help=f"a hardware tier of the tiers file ({names} in {default_tiers_file().name})",
    )
    group.add_argument(
        "--tiers",
        metavar="FILE",
        type=Path,
        help="your tiers file, which replaces the default one (same INI format: "
        "k8s-templates/tiers.ini)",
    )
    group.add_argument(
        "--cpu",
        metavar="REQUEST[:LIMIT]",
        help="CPU cores per pod (2, 500m:2); one value is both; uWSGI runs one process per "
        "whole core of the limit",
    )
    group.add_argument(
        "--memory", metavar="REQUEST[:LIMIT]", help="memory per pod (4Gi); one value is both"
    )
    group.add_argument(
        "--gpus", type=_count, metavar="N", help="NVIDIA GPUs per pod (the CUDA image; 0: none)"
    )
    group.add_argument(
        "--replicas", type=_count, metavar="N", help="exactly N pods (the autoscaler's bounds)"
    )
    group.add_argument(
        "--min-replicas", type=_count, metavar="N", help="the autoscaler's minimum of pods"
    )
    group.add_argument(
        "--max-replicas", type=_count, metavar="N", help="the autoscaler's maximum of pods"
    )


def shape(ns: argparse.Namespace) -> Sizing | None:
    """The pods' shape the options ask for (``None``: the templates' own)."""
    tier = None
    if ns.tier is not None or ns.tiers is not None:
        tiers = load_tiers(ns.tiers)
        if ns.tier is None:
            raise ConfigError("--tiers names the file of --tier: give --tier too")
        if ns.tier not in tiers:
            raise ConfigError(f"--tier {ns.tier!r}: the tiers are {', '.join(tiers)}")
        tier = tiers[ns.tier]
    return sizing(
        tier,
        gpu=ns.gpu,
        cpu=ns.cpu,
        memory=ns.memory,
        gpus=ns.gpus,
        replicas=ns.replicas,
        min_replicas=ns.min_replicas,
        max_replicas=ns.max_replicas,
    )


def add_mount_arguments(parser: argparse.ArgumentParser) -> None:
    """--secret-env and --volume (both repeatable)."""
    group = parser.add_argument_group(
        "secrets and volumes",
        "Added to every container that runs the model (the job workers' too).",
    )
    group.add_argument(
        "--secret-env",
        metavar="NAME=SECRET/KEY",
        action="append",
        default=[],
        help="the environment variable NAME from the key KEY of your Secret SECRET (a "
        "password, an API key); the pod waits until the Secret exists; repeatable",
    )
    group.add_argument(
        "--volume",
        metavar="NAME=pvc:CLAIM:/MOUNT[:ro|:rw]",
        action="append",
        default=[],
        help="mount a PersistentVolumeClaim at /MOUNT (read-only unless :rw), or "
        "NAME=hostPath:/PATH:/MOUNT[:ro], a node's directory, read-only (hostPath leaves "
        "the restricted Pod Security level); repeatable",
    )


def mounts(ns: argparse.Namespace) -> tuple[tuple[SecretEnv, ...], tuple[Volume, ...]]:
    """The Secret-backed variables and the volumes the options ask for."""
    return (
        tuple(parse_secret_env(text) for text in ns.secret_env),
        tuple(parse_volume(text) for text in ns.volume),
    )
