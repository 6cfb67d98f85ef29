"""How settings are named and written in the environment, for :mod:`servekit.settings`:
the ``SERVEKIT_`` variables, their former names, and the text of a value."""

from __future__ import annotations

import os
from typing import Any

from servekit.errors import ConfigError

__all__ = ["ENV_PREFIX", "OLD_NAMES", "env_name", "parse_value", "usable_cores"]

ENV_PREFIX = "SERVEKIT_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


OLD_NAMES = {
    "unit_parameters": "PREDICTIVE_UNIT_PARAMETERS",  # Seldon's own name for it
    "runtime_dir": "SERVEKIT_METRICS_DIR",  # until 0.1: kept for one release
}
"""Other variables a setting is read from when its own is not set."""


def env_name(name: str) -> str:
    """The environment variable of setting ``name``: ``SERVEKIT_`` + upper case."""
    return ENV_PREFIX + name.upper()


def parse_value(name: str, kind: type, raw: str) -> Any:
    """Parse one setting's text (from the environment or a flag) into its type."""
    text = raw.strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{env_name(name)} must be true or false (1/0, yes/no), got {raw!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{env_name(name)} must be an integer, got {raw!r}") from None
    return text.lower() if name in ("log_format", "log_level", "front") else text
