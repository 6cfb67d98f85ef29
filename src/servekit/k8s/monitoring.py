"""Prediction capture and ``servekit monitor`` on a schedule, for ``servekit k8s render``
(pure): what ``--capture``, ``--capture-sample``, ``--monitor-schedule``, ``--baseline``
and their companions mean, what they refuse, and the components (of
``templates/components/monitoring-capture``), settings and patches they become.

``--capture file`` gives every pod its own folder on a ReadWriteMany claim (appends to
one file from several machines are not atomic over NFS-like storage);
``--monitor-schedule`` adds a CronJob reading all of them.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from servekit.errors import ConfigError
from servekit.k8s._patches import add, patch

__all__ = [
    "CAPTURE_DIR",
    "OWNED",
    "Monitoring",
    "capture_url",
    "check_monitoring",
    "check_schedule",
    "monitoring_parts",
    "parse_baseline",
]

CAPTURE_DIR = "/var/lib/servekit/capture"
"""Where the claim of ``--capture file`` is mounted (each pod writes a folder in it)."""
BASELINE_DIR = "/etc/servekit/baseline"
"""Where the monitor's pod finds the baseline's ConfigMap or claim."""
OWNED = {"SERVEKIT_CAPTURE": "--capture", "SERVEKIT_CAPTURE_SAMPLE": "--capture-sample"}
"""Settings these options set, which ``--set`` may not."""
_TEMPLATE_CONFIGMAPS = ("servekit-settings", "servekit-async")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ("", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
"""Each field of a schedule: its name, range and names (at their numbers)."""
_COMPONENTS = "templates/components/monitoring-capture"


@dataclass(frozen=True)
class Monitoring:
    """What to capture, and how ``servekit monitor`` runs over it."""

    capture: str
    """``file`` (a folder per pod on a claim) or a sink URL (``http(s)://``, ``redis://``)."""
    sample: str | None = None
    """``SERVEKIT_CAPTURE_SAMPLE`` (0 to 1); ``None``: the component's 1."""
    schedule: str | None = None
    """The CronJob's schedule (UTC); ``None``: no CronJob."""
    baseline: tuple[str, str, str] | None = None
    """(``configmap`` or ``pvc``, its name, the key or path): see :func:`parse_baseline`."""
    thresholds: str | None = None
    """A file beside the baseline (a key of its ConfigMap, a path on its claim)."""
    window_hours: int | None = None
    """Hours of records each run reads; ``None``: the template's 24."""
    image: str | None = None
    """The monitor's image; ``None``: the model's."""


def parse_baseline(text: str) -> tuple[str, str, str]:
    """``CONFIGMAP/KEY`` (a ``.csv`` or ``.parquet`` key) or ``pvc:CLAIM/PATH`` (a file,
    or a folder of captured records) of ``--baseline``."""
    claim = text.startswith("pvc:")
    rest = text.removeprefix("pvc:")
    name, slash, where = rest.partition("/")
    if not slash or not where or len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise ConfigError(
            f"--baseline {text!r}: expected CONFIGMAP/KEY (kubectl create configmap "
            "churn-baseline --from-file=train.csv) or pvc:CLAIM/PATH, a file or a folder of "
            "captured records on a claim"
        )
    if claim:
        _relative("--baseline", where)
        return "pvc", name, where
    if name in _TEMPLATE_CONFIGMAPS:
        raise ConfigError(f"--baseline {text!r}: {name} is the templates' own ConfigMap")
    if not _KEY.fullmatch(where) or not where.endswith((".csv", ".parquet")):
        raise ConfigError(f"--baseline {text!r}: the key is a .csv or .parquet file's name")
    return "configmap", name, where


def _relative(flag: str, path: str) -> None:
    if path.startswith(("/", "..")) or posixpath.normpath(path) != path:
        raise ConfigError(f"{flag} {path!r}: a path inside the claim, without '..'")


def check_schedule(schedule: str) -> None:
    """Refuse what Kubernetes' cron parser would: five fields (or a macro), each in range."""
    if "TZ=" in schedule:
        raise ConfigError(
            f"--monitor-schedule {schedule!r}: Kubernetes refuses TZ= in schedules; the "
            "CronJob runs in UTC (its timeZone)"
        )
    if schedule in _MACROS:
        return
    fields = schedule.split()
    if len(fields) != 5:
        raise ConfigError(
            f"--monitor-schedule {schedule!r}: five fields (minute hour day-of-month month "
            f"day-of-week, e.g. '0 6 * * *') or one of {', '.join(_MACROS)}"
        )
    for text, (what, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            span, _, step = item.partition("/")
            ends = [] if span in ("*", "?") else span.split("-", 1)
            values = [str(names.index(e.upper())) if e.upper() in names else e for e in ends]
            good = all(v.isdigit() and low <= int(v) <= high for v in values)
            if not good or (step and not (step.isdigit() and int(step) > 0)):
                raise ConfigError(
                    f"--monitor-schedule {schedule!r}: {item!r} is not a {what} "
                    f"({low}-{high}, *, ranges, lists and /steps)"
                )


def check_monitoring(monitoring: Monitoring) -> None:
    """Refuse what makes no sense together (the sink URL is checked by the render)."""
    files = monitoring.capture == "file"
    if monitoring.sample is not None:
        try:
            fraction = float(monitoring.sample)
        except ValueError:
            fraction = -1.0
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"--capture-sample {monitoring.sample!r}: a number from 0 to 1")
    if monitoring.schedule is None:
        companions = {
            "--baseline": monitoring.baseline,
            "--thresholds": monitoring.thresholds,
            "--monitor-window": monitoring.window_hours,
            "--monitor-image": monitoring.image,
        }
        for flag, given in companions.items():
            if given is not None:
                raise ConfigError(f"{flag} is for --monitor-schedule: give it too")
        return
    if not files:
        raise ConfigError(
            "--monitor-schedule runs servekit monitor, which reads captured files, not a "
            "stream or an HTTP sink: capture with --capture file"
        )
    check_schedule(monitoring.schedule)
    if monitoring.baseline is None:
        raise ConfigError(
            "--monitor-schedule needs --baseline: the training data servekit monitor compares "
            "with (CONFIGMAP/KEY.csv, or pvc:CLAIM/PATH)"
        )
    if monitoring.thresholds is not None:
        if monitoring.baseline[0] == "pvc":
            _relative("--thresholds", monitoring.thresholds)
        elif not _KEY.fullmatch(monitoring.thresholds):
            raise ConfigError(
                f"--thresholds {monitoring.thresholds!r}: a key of the baseline's ConfigMap"
            )
    if monitoring.window_hours is not None and monitoring.window_hours < 1:
        raise ConfigError("--monitor-window: 1 hour or more")


def capture_url(url: str, name: str, version: str) -> str:
    """``--capture``'s sink URL as the pods get it: refused with a password (it would be
    in a ConfigMap); a Redis stream is this version's unless the URL names one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"--capture {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https", "redis", "rediss") or not parts.hostname:
        raise ConfigError(
            f"--capture {url!r}: file (a folder per pod on a ReadWriteMany claim), or a sink "
            "URL: http(s)://HOST/PATH (CloudEvents) or redis://HOST:PORT/DB (a stream)"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "--capture with a user or password would write it into a ConfigMap: set "
            "SERVEKIT_CAPTURE from a Secret in your own kustomization instead"
        )
    if parts.scheme.startswith("redis") and "stream=" not in parts.query:
        stream = f"stream=servekit:{name}:{version}:capture"
        return f"{url}{'&' if parts.query else '?'}{stream}"
    return url


def monitoring_parts(
    monitoring: Monitoring, name: str, version: str
) -> tuple[list[str], list[dict[str, object]]]:
    """(components, patches) of ``monitoring``. The settings are a patch of the
    servekit-settings ConfigMap, not a generator merge: the components' merges come later
    and would win."""
    files = monitoring.capture == "file"
    settings = {} if files else {"SERVEKIT_CAPTURE": capture_url(monitoring.capture, name, version)}
    if monitoring.sample is not None:
        settings["SERVEKIT_CAPTURE_SAMPLE"] = monitoring.sample
    components = [f"{_COMPONENTS}/files"] if files else []
    if monitoring.capture.startswith("redis"):
        components.append(f"{_COMPONENTS}/redis")
    operations = [add(f"/data/{key}", value) for key, value in settings.items()]
    patches = [patch("ConfigMap", operations, name="servekit-settings")] if operations else []
    if monitoring.schedule is not None:
        components.append(f"{_COMPONENTS}/monitor")
        patches.append(_cronjob_patch(monitoring))
    return components, patches


def _cronjob_patch(monitoring: Monitoring) -> dict[str, object]:
    """The schedule, the baseline's volume and file, and the image (a strategic merge
    patch: lists merge by name)."""
    assert monitoring.schedule is not None
    assert monitoring.baseline is not None
    kind, source, where = monitoring.baseline
    env = [{"name": "MONITOR_BASELINE", "value": f"{BASELINE_DIR}/{where}"}]
    if monitoring.thresholds:
        folder = posixpath.dirname(where) if kind == "pvc" else ""
        path = posixpath.join(BASELINE_DIR, folder, monitoring.thresholds)
        env.append({"name": "MONITOR_THRESHOLDS", "value": path})
    if monitoring.window_hours is not None:
        env.append({"name": "MONITOR_WINDOW_HOURS", "value": str(monitoring.window_hours)})
    container: dict[str, object] = {"name": "monitor", "env": env}
    if monitoring.image:
        container["image"] = monitoring.image
    volume: dict[str, object] = (
        {"name": "baseline", "configMap": {"name": source, "optional": False}}
        if kind == "configmap"
        else {
            "name": "baseline",
            "configMap": None,  # deleted: the claim replaces it
            "persistentVolumeClaim": {"claimName": source, "readOnly": True},
        }
    )
    pod = {"containers": [container], "volumes": [volume]}
    document = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "servekit-monitor"},
        "spec": {
            "schedule": monitoring.schedule,
            "jobTemplate": {"spec": {"template": {"spec": pod}}},
        },
    }
    return {"target": {"kind": "CronJob"}, "patch": json.dumps(document)}
