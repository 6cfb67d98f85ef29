"""`servekit build` with a fake podman (a shell script that it runs and that records what it
was asked): a missing default base image is never pulled. It starts processes, so it is
not with the rest of tests/unit/images/test_images.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit._version import __version__
from servekit.cli import main
from tests.conftest import write_project


def test_a_missing_default_base_image_is_never_pulled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fake podman that has no images and records what it was asked.
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "podman"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    write_project(tmp_path / "p", {"model.py": ""})
    argv = ["build", str(tmp_path / "p"), "--target", "model.py:predict", "--engine", "podman"]
    assert main([*argv, "--quiet"]) == 2
    assert f"the base image servekit/cpu:{__version__} is not on this machine" in (
        capsys.readouterr().err
    )
    assert calls.read_text().split() == ["image", "exists", f"servekit/cpu:{__version__}"]
