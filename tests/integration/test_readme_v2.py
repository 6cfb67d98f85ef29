"""The README's Open Inference Protocol examples, run as written (ports aside): the
scaler model, the curl call, Triton's HTTP client with binary tensors, and the gRPC
server with Triton's gRPC client."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_grpc_serving import grpc_serve

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Open Inference Protocol (V2)")
    return text[start : text.index("\n### ", start + 10)]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_the_readme_v2_examples_work_as_written(serve: Any, tmp_path: Path) -> None:
    model, http_client = blocks("python")
    curl, grpc_example = blocks("bash")
    served = re.search(r"served with `(.*?)`", section())
    assert served is not None
    assert served.group(1) == "SERVEKIT_ACCESS_TOKENS=TOKEN servekit serve scaler/model.py:predict"
    (tmp_path / "scaler").mkdir()
    (tmp_path / "scaler" / "model.py").write_text(model, encoding="utf-8")
    launch, script = grpc_example.split("\n", 1)
    assert launch == served.group(1) + " --grpc-port 8081 &"
    server, grpc_port = grpc_serve(
        serve, f"{tmp_path}/scaler/model.py:predict", env={"SERVEKIT_ACCESS_TOKENS": "TOKEN"}
    )
    port = str(server.port)

    words = shlex.split(curl.replace("localhost:8080", f"127.0.0.1:{port}"))
    done = subprocess.run(words, capture_output=True, text=True, timeout=30, check=True)
    assert '"data":[0.5,1.0,1.5,2.0]' in done.stdout, done.stdout

    for code, old, new in (
        (http_client, "localhost:8080", f"127.0.0.1:{port}"),
        (script.removeprefix("python - <<'PY'\n").removesuffix("PY\n"), "localhost:8081",
         f"127.0.0.1:{grpc_port}"),
    ):  # fmt: skip
        ran = subprocess.run(
            [sys.executable, "-c", code.replace(old, new)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == ["[[0.5", "1.", "]", "[1.5", "2.", "]]"], ran.stdout
