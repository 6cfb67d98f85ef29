"""A real ``servekit serve`` (uWSGI, several processes) on a loopback port."""

from __future__ import annotations

import concurrent.futures
import json
import re
import socket
from http.client import HTTPResponse
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import EXAMPLES, REPO, free_port, http, post_json, run_cli, write_project

pytestmark = pytest.mark.integration

TYPED_MODEL = """
    import os
    import time
    from dataclasses import dataclass
    from pathlib import Path

    # Import-time side effect: one line per process that loads this module.
    with open(Path(__file__).with_name("loads.txt"), "a") as f:
        f.write(f"{os.getpid()}\\n")

    @dataclass
    class Row:
        age: int
        name: str = "anon"

    def predict(start: int, stop: int, rows: list[Row] = (), pause: float = 0.0):
        if start == 13:
            raise ValueError("unlucky start")
        time.sleep(pause)
        return {"sum": sum(range(start, stop)), "ages": [r.age for r in rows],
                "pid": os.getpid()}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "typed", {"model.py": TYPED_MODEL})


def test_all_three_request_forms_reach_the_function(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "2")
    url = f"{server.url}/model"
    by_data = post_json(url, {"data": {"start": 1, "stop": 4, "rows": [{"age": 7}]}})
    by_position = post_json(url, {"parameters": [1, 4]})
    by_name = post_json(
        f"{server.url}/models/abc/latest/model", {"parameters": {"start": 1, "stop": 4}}
    )
    for reply in (by_data, by_position, by_name):
        assert reply.status == 200, reply.body
        assert reply.body["result"]["sum"] == 6
    assert by_data.body["result"]["ages"] == [7]
    body = by_data.body
    assert body["release"] == {
        "harness_version": body["release"]["harness_version"],
        "model_name": "typed",
        "model_version": "1",
    }
    assert isinstance(body["model_time_in_ms"], int)
    assert isinstance(body["timing"], float)
    assert body["request_id"] == by_data.headers["x-request-id"]


def test_model_loads_once_per_worker_and_workers_share_the_load(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "2")
    url = f"{server.url}/model"
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(
            pool.map(
                lambda _: post_json(url, {"data": {"start": 0, "stop": 2, "pause": 0.2}}), range(8)
            )
        )
    assert all(r.status == 200 for r in replies)
    pids = {r.body["result"]["pid"] for r in replies}
    assert len(pids) == 2, "both uWSGI workers should have answered"
    assert server.process.pid not in pids, "the master must not serve requests"
    loads = (project / "loads.txt").read_text().split()
    assert sorted(loads) == sorted(str(p) for p in pids), "one load per worker, none per request"


def test_preload_loads_once_in_the_master(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "2", "--preload")
    for _ in range(6):
        assert post_json(f"{server.url}/model", {"parameters": [1, 2]}).status == 200
    assert (project / "loads.txt").read_text().split() == [str(server.process.pid)]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "needle"),
    [
        (b"{not json", {}, 400, "BAD_JSON", "not valid JSON"),
        (b'{"data": {"start": NaN, "stop": 1}}', {}, 400, "BAD_JSON", "not valid JSON"),
        (b"", {}, 400, "BAD_JSON", "empty"),
        (b"[1, 2]", {}, 400, "BAD_REQUEST", "must be a JSON object"),
        (b'{"inputs": {}}', {}, 400, "BAD_REQUEST", 'no "data" or "parameters"'),
        (b'{"data": [1, 2]}', {}, 400, "BAD_REQUEST", '"data" must be a JSON object'),
        (b'{"data": {"start": "1", "stop": 2}}', {}, 422, "INVALID_ARGUMENTS", "data.start"),
        (b'{"data": {"stop": 2}}', {}, 422, "INVALID_ARGUMENTS", "data.start"),
        (b'{"parameters": [1, 2, [], 0, 9]}', {}, 422, "INVALID_ARGUMENTS", "parameters[4]"),
        (
            b'{"data": {"start": 1, "stop": 2, "rows": [{"age": "old"}]}}',
            {},
            422,
            "INVALID_ARGUMENTS",
            "data.rows[0].age",
        ),
        (
            b'{"data": {"start": 1, "stop": 2}}',
            {"Content-Type": "text/csv"},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "application/json",
        ),
        (b"x" * 5000, {}, 413, "PAYLOAD_TOO_LARGE", "4096 bytes"),
        (
            b'{"data": {"start": ' + b"[" * 1100 + b"]" * 1100 + b"}}",
            {},
            400,
            "BAD_JSON",
            "depth limit",
        ),
        (b'{"data": {}}', {"X-Big": "y" * 40_000}, 431, "HEADERS_TOO_LARGE", "32768 bytes"),
    ],
)
def test_bad_input_gets_its_code_and_names_the_field(
    serve,
    project: Path,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    needle: str,
) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1", "--max-body-bytes", "4096")
    reply = http(
        "POST", f"{server.url}/model", body, {"Content-Type": "application/json", **headers}
    )
    assert reply.status == status, reply.body
    assert reply.body["error"]["code"] == code
    text = reply.body["error"]["message"] + str(reply.body["error"]["details"])
    assert needle in text
    assert reply.body["request_id"] == reply.headers["x-request-id"]


def test_chunked_bodies_are_read_and_limited(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1", "--max-body-bytes", "1024")

    def send_chunked(parts: list[bytes]) -> tuple[int, dict[str, Any]]:
        # One write of the whole chunked request: the server may answer 413 and close
        # before reading it all, which must not race with a client still sending.
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        head = (
            b"POST /model HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + chunks)
            response = HTTPResponse(sock)
            response.begin()
            return response.status, orjson.loads(response.read())

    status, body = send_chunked([b'{"data": {"start": 1,', b' "stop": 5}}'])
    assert (status, body["result"]["sum"]) == (200, 10)
    status, body = send_chunked([b'{"data": {"pad": "', b"x" * 800, b"y" * 800, b'"}}'])
    assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_every_problem_is_listed(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1")
    reply = post_json(
        f"{server.url}/model",
        {"data": {"start": 1.5, "rows": [{"age": 1, "extra": 2}], "bogus": 1}},
    )
    assert reply.status == 422
    paths = sorted(d["path"] for d in reply.body["error"]["details"])
    assert paths == ["data.bogus", "data.rows[0].extra", "data.start", "data.stop"]


def test_routing_errors_use_the_envelope(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "1")
    missing = http("GET", f"{server.url}/nowhere")
    assert (missing.status, missing.body["error"]["code"]) == (404, "NOT_FOUND")
    wrong_method = http("GET", f"{server.url}/model")
    assert (wrong_method.status, wrong_method.body["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert "POST" in wrong_method.headers["allow"]


def test_model_error_is_reported_and_the_server_keeps_serving(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "2")
    for _ in range(3):
        failed = post_json(
            f"{server.url}/model", {"parameters": [13, 20]}, {"X-Request-ID": "req-13"}
        )
        assert failed.status == 500
        assert failed.body["error"] == {
            "code": "MODEL_ERROR",
            "message": "ValueError: unlucky start",
            "details": [],
        }
        assert "Traceback" not in failed.raw.decode()
        assert failed.body["request_id"] == "req-13"
        assert post_json(f"{server.url}/model", {"parameters": [1, 3]}).status == 200
    log = server.log()
    assert "unlucky start" in log
    assert "Traceback" in log
    assert '"request_id":"req-13"' in log


def test_probes(serve, project: Path) -> None:
    server = serve(
        f"{project}/model.py:predict",
        "--processes",
        "1",
        "--model-name",
        "typed-model",
        "--model-version",
        "7",
    )
    assert http("GET", f"{server.url}/healthz").body == {"status": "alive"}
    ready = http("GET", f"{server.url}/readyz")
    assert ready.body["model"]["model_name"] == "typed-model"
    assert ready.body["model"]["model_version"] == "7"
    assert ready.body["runtime"]["runtime"] == "python"


def test_settings_come_from_the_environment(serve, project: Path) -> None:
    server = serve(
        env={
            "SERVEKIT_TARGET": f"{project}/model.py:predict",
            "SERVEKIT_PROCESSES": "1",
            "SERVEKIT_MODEL_VERSION": "env-3",
        }
    )
    assert http("GET", f"{server.url}/readyz").body["model"]["model_version"] == "env-3"


def test_sigterm_stops_the_server(serve, project: Path) -> None:
    server = serve(f"{project}/model.py:predict", "--processes", "2")
    server.wait_for_log('"message":"model loaded"', count=2)
    assert server.stop() == 0
    assert "goodbye to uWSGI" in server.log()


_LOAD_M = (
    "class M:\n    def load(self):\n        raise OSError('no weights')\n"
    "    def predict(self):\n        return 1\n"
)


@pytest.mark.parametrize(
    ("files", "target", "flags", "needles", "before_workers"),
    [
        ({}, "missing.py:predict", [], ["file not found", "missing.py"], True),
        (
            {"model.py": "def predict(x:\n    return x\n"},
            "model.py:predict",
            [],
            ["model.py, line 1", "SyntaxError"],
            True,
        ),
        (
            {"model.py": "import no_such_package_zz\n"},
            "model.py:predict",
            [],
            ["model.py, line 1", "ModuleNotFoundError", "no_such_package_zz"],
            True,
        ),
        (
            {"model.py": "class PriceModel:\n    def predict(self):\n        return 1\n"},
            "model.py:PriceModle",
            [],
            ["has no 'PriceModle'", "did you mean 'PriceModel'?"],
            True,
        ),
        ({"model.py": "x = 1\n"}, "model.py:predict", [], ["has no 'predict'"], True),
        ({}, "not_a_module_zz:predict", [], ["no module named 'not_a_module_zz'"], True),
        (
            {"model.py": "def predict():\n    return 1\n"},
            "model.py:predict",
            ["--timeout", "soon"],
            ["SERVEKIT_TIMEOUT must be an integer"],
            True,
        ),
        # Only running the code can tell: each worker fails, one line is said.
        (
            {"model.py": _LOAD_M},
            "model.py:M",
            [],
            ["model.py, line 3", "OSError", "M.load()"],
            False,
        ),
        (
            {"model.py": _LOAD_M},
            "model.py:M",
            ["--preload"],
            ["model.py, line 3", "OSError", "M.load()"],
            True,  # the master loads it before it forks any worker
        ),
        (
            {"model.py": "import json\njson.loads('{')\ndef predict():\n    return 1\n"},
            "model.py:predict",
            [],
            ["model.py, line 2", "JSONDecodeError", "importing model.py"],
            False,
        ),
        (
            {"model.py": "class M:\n    pass\n"},
            "model.py:M",
            [],
            ["has no predict() method"],
            False,
        ),
    ],
)
def test_startup_failures_are_one_line_and_exit_2(
    tmp_path: Path,
    files: dict[str, str],
    target: str,
    flags: list[str],
    needles: list[str],
    before_workers: bool,
) -> None:
    write_project(tmp_path, files)
    result = run_cli(
        ["serve", target, "--processes", "3", "--port", str(free_port()), *flags], cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # all JSON
    errors = [r for r in records if r["level"] in ("error", "critical")]
    assert len(errors) == 1, result.stderr  # one line, once: not once per worker
    assert errors[0]["message"].startswith("servekit: error: "), errors
    for needle in needles:
        assert needle in errors[0]["message"]
    uwsgi = [r for r in records if r["logger"] == "uwsgi"]
    spawned = [r for r in uwsgi if r["message"].startswith("spawned uWSGI worker")]
    assert not spawned if before_workers else spawned, result.stderr
    alarms = [r for r in uwsgi if r["level"] != "info" and "as root" not in r["message"]]
    assert not alarms, alarms  # uWSGI's own OOPS and need-app lines are said at debug
    if "M.load()" in needles or "importing model.py" in needles:  # the user's code raised
        # The line says how to see the traceback; the traceback itself is at debug.
        assert "SERVEKIT_LOG_LEVEL=debug logs the traceback" in errors[0]["message"]
        assert "Traceback" not in result.stderr


def test_a_load_error_in_text_is_one_line_and_its_traceback_at_debug(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": _LOAD_M})
    command = ["serve", "model.py:M", "--processes", "2", "--port", str(free_port())]
    quiet = run_cli([*command, "--log-format", "text"], cwd=tmp_path)
    assert quiet.returncode == 2, quiet.stderr
    said = [line for line in quiet.stderr.splitlines() if "servekit: error:" in line]
    assert len(said) == 1, quiet.stderr
    assert "OSError" in said[0]
    assert "Traceback" not in quiet.stderr
    loud = run_cli([*command, "--log-format", "text", "--log-level", "debug"], cwd=tmp_path)
    assert loud.returncode == 2, loud.stderr
    assert "Traceback (most recent call last)" in loud.stderr
    assert "raise OSError('no weights')" in loud.stderr


def test_print_config_shows_the_generated_uwsgi_options(tmp_path: Path) -> None:
    write_project(tmp_path, {"model.py": "def predict():\n    return 1\n"})
    result = run_cli(
        [
            "serve",
            "model.py:predict",
            "--processes",
            "3",
            "--threads",
            "2",
            "--timeout",
            "30",
            "--max-requests",
            "1000",
            "--front",
            "direct",
            "--print-config",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    for expected in [
        "[uwsgi]",
        "processes = 3",
        "threads = 2",
        "harakiri = 35",
        "hook-master-start = unix_signal:15 uwsgi_route_signal",
        "shared-import = servekit.serving.drain",
        "max-requests = 1000",
        "max-requests-delta = 16",
        "lazy-apps = true",
        "need-app = true",
        "die-on-term = true",
        "http-socket = 127.0.0.1:8080",
        "add-header = Connection: close",
        f"chdir = {tmp_path.resolve()}",
    ]:
        assert expected in lines
    shielded = run_cli(
        ["serve", "model.py:predict", "--front", "nginx", "--print-config"], cwd=tmp_path
    )
    assert shielded.returncode == 0, shielded.stderr
    assert "http-socket" not in shielded.stdout
    lines = set(shielded.stdout.splitlines())
    assert any(line.startswith("socket = /") and line.endswith("/workers.sock") for line in lines)
    assert re.search(
        r"^attach-daemon2 = cmd=exec \S*nginx -c \S+/nginx.conf,stopsignal=3$",
        shielded.stdout,
        re.M,
    ), shielded.stdout
    preload = run_cli(["serve", "model.py:predict", "--preload", "--print-config"], cwd=tmp_path)
    assert "lazy-apps = true" not in preload.stdout


def test_the_class_example_serves_from_its_shipped_weights(serve) -> None:
    server = serve(f"{EXAMPLES}/churn/model.py:ChurnModel", "--processes", "2")
    customers = [
        {"tenure_months": 3, "monthly_spend": 80.5, "support_calls": 4, "plan": "basic"},
        {"tenure_months": 60, "monthly_spend": 20.0, "plan": "pro"},
    ]
    reply = post_json(f"{server.url}/model", {"data": {"customers": customers}})
    assert reply.status == 200, reply.body
    first, second = reply.body["result"]
    assert first["will_churn"] is True
    assert second["will_churn"] is False
    assert 0.5 < first["churn_probability"] < 1.0
    bad = post_json(
        f"{server.url}/model", {"data": {"customers": [{"tenure_months": 3, "plan": "gold"}]}}
    )
    assert bad.status == 422
    paths = {d["path"] for d in bad.body["error"]["details"]}
    assert paths == {"data.customers[0].plan", "data.customers[0].monthly_spend"}


def test_dev_server_serves_a_relative_target(serve, tmp_path: Path) -> None:
    # Run from the repository root with a relative TARGET, as the README shows.
    server = serve("examples/range/model.py:predict", "--dev", cwd=REPO)
    reply = post_json(f"{server.url}/model", {"data": {"start": 1, "stop": 4}})
    assert reply.status == 200, reply.body
    assert reply.body["result"] == {"values": [1, 2, 3], "total": 6}


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = run_cli(["--version"])
    assert result.returncode == 0
    assert result.stdout.startswith("servekit ")
