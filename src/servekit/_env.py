"""How settings are named and written in the environment, for :mod:`servekit.settings`:
the ``SERVEKIT_`` variables, their former names, and the text of a value."""

from __future__ import annotations

import os
from typing import Any

from servekit.errors import ConfigError

__all__ = ["ENV_PREFIX", "OLD_NAMES", "amqp_checks", "env_name", "parse_value", "usable_cores"]

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
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{env_name(name)} must be a number, got {raw!r}") from None
    return text.lower() if name in ("log_format", "log_level", "front") else text


def amqp_checks(url: str, input_queue: str, output_queue: str) -> list[tuple[bool, str, str]]:
    """The settings' checks (ok, setting, what it must be) for ``SERVEKIT_AMQP_URL``: an
    amqp(s) URL (ConfigError now otherwise), and with one both queues named (AMQP allows
    255 bytes) and different."""
    scheme, sep, _ = url.partition("://")
    if url and (not sep or scheme.lower() not in ("amqp", "amqps")):
        got = f"scheme {scheme!r}" if sep else "no scheme"  # not the URL: it may hold a password
        raise ConfigError(f"{env_name('amqp_url')} must be an amqp:// or amqps:// URL, got {got}")
    if not url:
        return []
    return [
        (
            0 < len(input_queue.encode()) <= 255,
            "amqp_input_queue",
            "a queue name (1..255 bytes) when SERVEKIT_AMQP_URL is set",
        ),
        (
            0 < len(output_queue.encode()) <= 255 and output_queue != input_queue,
            "amqp_output_queue",
            "a queue name (1..255 bytes) other than SERVEKIT_AMQP_INPUT_QUEUE "
            "when SERVEKIT_AMQP_URL is set",
        ),
    ]
