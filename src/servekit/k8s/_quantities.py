"""Quantities and labels as the command line and tiers files write them (pure): CPU and
memory (Kubernetes' units, ``REQUEST[:LIMIT]``), replica bounds, node selectors and
tolerations (kubectl taint's ``KEY[=VALUE]:EFFECT``); each raises :class:`ConfigError`."""

from __future__ import annotations

import re
from collections.abc import Callable

from servekit.errors import ConfigError

__all__ = [
    "parse_bounds",
    "parse_cpu",
    "parse_memory",
    "parse_node_selector",
    "parse_replicas",
    "parse_resource",
    "parse_tolerations",
]

_CPU = re.compile(r"^(\d+(?:\.\d{1,3})?|\d+m)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_UNITS.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
_QUALIFIED = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_cpu(text: str) -> int:
    """A CPU quantity (``"2"``, ``"1.5"``, ``"500m"``) in millicores; over 0."""
    if not _CPU.fullmatch(text) or (value := _millicores(text)) <= 0:
        raise ConfigError(f"CPU {text!r}: cores (2, 1.5) or millicores (500m), over 0")
    return value


def _millicores(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else round(float(text) * 1000)


def parse_memory(text: str) -> int:
    """A memory quantity (``"512Mi"``, ``"2Gi"``, ``"1G"``) in bytes; over 0."""
    found = _MEMORY.fullmatch(text)
    if not found or (value := int(found[1]) * _UNITS[found[2] or ""]) <= 0:
        raise ConfigError(f"memory {text!r}: a whole number with Ki, Mi, Gi, Ti (or k, M, G, T)")
    return value


def _pair(what: str, text: str, measure: Callable[[str], int]) -> tuple[str, str]:
    """``REQUEST[:LIMIT]`` checked with ``measure``; one value is both."""
    request, _, limit = text.strip().partition(":")
    limit = limit or request
    if measure(request) > measure(limit):
        raise ConfigError(f"{what} {text!r}: the request is above the limit")
    return request, limit


def parse_resource(what: str, text: str) -> tuple[str, str]:
    """``--cpu`` / ``--memory`` (or a tier's ``cpu`` / ``memory``): (request, limit)."""
    return _pair(what, text, parse_cpu if what == "cpu" else parse_memory)


def parse_replicas(text: str) -> tuple[int, int]:
    """A tier's ``replicas``: ``MIN-MAX`` or ``N`` -> (min, max), 1 <= min <= max."""
    low, _, high = text.strip().partition("-")
    if not low.isdigit() or not (high or low).isdigit():
        raise ConfigError(f"replicas {text!r}: MIN-MAX (2-10) or a count (4)")
    return parse_bounds(int(low), int(high or low))


def parse_bounds(low: int, high: int) -> tuple[int, int]:
    """(min, max) pods, checked: 1 <= min <= max."""
    if not 1 <= low <= high:
        raise ConfigError(
            f"replicas {low} to {high}: at least 1, and the minimum not above the maximum"
        )
    return low, high


def parse_node_selector(text: str) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE,...`` node labels -> ((key, value), ...)."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not _QUALIFIED.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise ConfigError(f"node-selector {item!r}: KEY=VALUE, a node label")
        pairs.append((key, value))
    return tuple(pairs)


def parse_tolerations(text: str) -> tuple[tuple[str, str, str], ...]:
    """``KEY[=VALUE]:EFFECT,...`` -> ((key, value or "", effect), ...)."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        taint, _, effect = item.rpartition(":")
        key, _, value = taint.partition("=")
        if effect not in _EFFECTS or not _QUALIFIED.fullmatch(key):
            raise ConfigError(
                f"tolerations {item!r}: KEY[=VALUE]:EFFECT, EFFECT one of {', '.join(_EFFECTS)}"
            )
        if not _LABEL_VALUE.fullmatch(value):
            raise ConfigError(f"tolerations {item!r}: the value is not a label value")
        found.append((key, value, effect))
    return tuple(found)
