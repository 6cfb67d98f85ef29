"""``servekit k8s render``'s options for a pod's shape (a tier, its overrides), its
Secret-backed environment and its volumes, and prediction capture with its monitor: the
flags, and what they become."""

from __future__ import annotations

import argparse
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s.monitoring import Monitoring, parse_baseline
from servekit.k8s.mounts import SecretEnv, Volume, parse_secret_env, parse_volume
from servekit.k8s.render import parse_image
from servekit.k8s.tiers import Sizing, default_tiers_file, load_tiers, sizing

__all__ = [
    "add_monitoring_arguments",
    "add_mount_arguments",
    "add_shape_arguments",
    "monitoring",
    "mounts",
    "shape",
]


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


def add_monitoring_arguments(parser: argparse.ArgumentParser) -> None:
    """--capture and ``servekit monitor``'s CronJob (--monitor-schedule and companions)."""
    group = parser.add_argument_group(
        "prediction capture and monitoring",
        "Record the pods' predictions (SERVEKIT_CAPTURE), and run `servekit monitor` over "
        "them on a schedule, against the training baseline: a failed Job when a drift or "
        "quality threshold is crossed (alert ServekitMonitorJobFailed).",
    )
    group.add_argument(
        "--capture",
        metavar="file|URL",
        help="file: each pod writes its own folder on a ReadWriteMany claim "
        "(NAME-vVERSION-servekit-capture); or a sink URL: http(s)://... (CloudEvents) or "
        "redis://HOST:PORT/DB[?stream=NAME&maxlen=N] (default stream "
        "servekit:NAME:VERSION:capture); no password",
    )
    group.add_argument(
        "--capture-sample", metavar="FRACTION", help="the fraction of predictions recorded (0-1)"
    )
    group.add_argument(
        "--monitor-schedule",
        metavar="CRON",
        help="with --capture file: a CronJob running servekit monitor on this schedule "
        "(UTC, e.g. '0 6 * * *'), reports in dated folders of the claim "
        "NAME-vVERSION-servekit-monitor-reports",
    )
    group.add_argument(
        "--baseline",
        metavar="CONFIGMAP/KEY|pvc:CLAIM/PATH",
        help="with --monitor-schedule: the training data (.csv or .parquet), a key of your "
        "ConfigMap (1 MiB at most) or a file on your claim; a folder on a claim is a "
        "window of captured records",
    )
    group.add_argument(
        "--thresholds",
        metavar="KEY|PATH",
        help="with --monitor-schedule: servekit monitor's thresholds file, beside the "
        "baseline (a key of its ConfigMap, or a path on its claim)",
    )
    group.add_argument(
        "--monitor-window",
        metavar="HOURS",
        type=_count,
        help="with --monitor-schedule: the hours of records each run reads (default 24)",
    )
    group.add_argument(
        "--monitor-image",
        metavar="IMAGE",
        help="with --monitor-schedule: the image running servekit monitor (default: "
        "--image; it needs servekit's monitor extra)",
    )


def monitoring(ns: argparse.Namespace) -> Monitoring | None:
    """The capture and monitor the options ask for (``None``: no --capture)."""
    companions = {
        "--capture-sample": ns.capture_sample,
        "--monitor-schedule": ns.monitor_schedule,
        "--baseline": ns.baseline,
        "--thresholds": ns.thresholds,
        "--monitor-window": ns.monitor_window,
        "--monitor-image": ns.monitor_image,
    }
    if ns.capture is None:
        for flag, given in companions.items():
            if given is not None:
                raise ConfigError(f"{flag} needs --capture (file, for --monitor-schedule)")
        return None
    if ns.monitor_image is not None:
        try:
            parse_image(ns.monitor_image)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("--image", "--monitor-image", 1)) from None
    return Monitoring(
        capture=ns.capture,
        sample=ns.capture_sample,
        schedule=ns.monitor_schedule,
        baseline=parse_baseline(ns.baseline) if ns.baseline else None,
        thresholds=ns.thresholds,
        window_hours=ns.monitor_window,
        image=ns.monitor_image,
    )
