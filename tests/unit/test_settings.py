"""The one settings object: environment, flags, validation, and its documentation."""

from __future__ import annotations

import dataclasses
import re

import pytest

from servekit.errors import ConfigError
from servekit.settings import Settings
from tests.conftest import REPO


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.threads) == ("127.0.0.1", 8080, 1)
    assert settings.worker_processes >= 1


def test_environment_then_overrides() -> None:
    env = {
        "SERVEKIT_PORT": "9001",
        "SERVEKIT_PRELOAD": "yes",
        "SERVEKIT_THREADS": "4",
        "SERVEKIT_MODEL_NAME": " churn ",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(env, threads=2)
    assert (settings.port, settings.preload, settings.threads) == (9001, True, 2)
    assert settings.model_name == "churn"


def test_round_trip_through_the_environment() -> None:
    settings = Settings(target="/m.py:f", port=1234, preload=True, max_requests=10)
    assert Settings.from_env(settings.to_env()) == settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SERVEKIT_PORT": "http"}, "SERVEKIT_PORT must be an integer, got 'http'"),
        ({"SERVEKIT_PORT": "70000"}, "SERVEKIT_PORT must be a TCP port"),
        ({"SERVEKIT_PRELOAD": "maybe"}, "SERVEKIT_PRELOAD must be true or false"),
        ({"SERVEKIT_THREADS": "0"}, "SERVEKIT_THREADS must be 1 or more"),
        ({"SERVEKIT_LOG_FORMAT": "xml"}, "SERVEKIT_LOG_FORMAT must be json or text"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for field in dataclasses.fields(Settings):
        assert field.metadata["doc"].strip(), field.name
        env = "SERVEKIT_" + field.name.upper()
        flag = "--" + field.name.replace("_", "-")
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{env}` |")), None)
        assert row is not None, f"{env} missing from the README settings table"
        assert f"`{flag}`" in row or field.name == "target", f"{flag} missing from its row"
