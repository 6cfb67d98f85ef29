"""A second local user against a running server's runtime folder (jobs, metrics, sockets)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import http, post_json, write_project

pytestmark = pytest.mark.integration


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as uid/gid 65534 (setpriv, from util-linux)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.fail("needs root and setpriv (apt-get install util-linux) to act as another user")
    return subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_another_local_user_can_read_no_job_and_plant_nothing(serve, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"model.py": "def predict(x: int):\n    return x\n"})
    # Straight under /tmp (pytest's own folders are closed to other users already).
    runtime = Path(tempfile.gettempdir()) / f"servekit-test-{uuid.uuid4().hex[:8]}"
    try:
        _attack(serve, project, runtime)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _attack(serve, project: Path, runtime: Path) -> None:
    server = serve(
        f"{project}/model.py:predict", "--async-workers", "1", "--metrics-dir", str(runtime)
    )
    job = post_json(f"{server.url}/async", {"data": {"x": 41}}).body["asyncPredictionId"]
    deadline = time.monotonic() + 20
    while http("GET", f"{server.url}/async/{job}").body["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (runtime / "jobs.db").exists()
    assert os.stat(runtime).st_mode & 0o777 == 0o700
    starts = list(runtime.glob("start-*"))
    assert starts, list(runtime.iterdir())
    for start in starts:
        assert os.stat(start).st_mode & 0o777 == 0o700
    read = as_nobody("cat", str(runtime / "jobs.db"))
    assert read.returncode != 0
    assert "Permission denied" in read.stderr
    listing = as_nobody("ls", str(runtime))
    assert listing.returncode != 0
    plant = as_nobody("sh", "-c", f"echo 1 > {starts[0]}/jobs.pid")
    assert plant.returncode != 0
