"""Prediction capture on real servers: two uWSGI workers, two job workers and a gRPC
process all writing one file sink (exactly one whole record per prediction, whatever
the door, the model's own records too, all flushed by SIGTERM); and a dead HTTP sink
and a Redis that is not there, which leave every answer a 200 and count the losses."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import tritonclient.grpc as tgrpc

from tests.conftest import Server, free_port, http, post_json, write_project
from tests.integration.test_async_serving import submit, wait_done
from tests.integration.test_grpc_serving import grpc_serve

pytestmark = pytest.mark.integration

MODEL = """
    import numpy as np
    import numpy.typing as npt
    from servekit import capture

    def predict(x: npt.NDArray[np.float64], tag: str = "") -> dict:
        if tag == "user":
            capture.record(features={"sum": float(x.sum())}, prediction="mine")
        if tag == "fail":
            raise ValueError("asked to fail")
        return {"y": x * 2}
"""


def records(folder: Path) -> list[dict[str, Any]]:
    lines = (folder / "predictions.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]  # a torn line would not parse


def metric(server: Server, outcome: str) -> float:
    text = http("GET", f"{server.url}/metrics").raw.decode()
    for line in text.splitlines():
        if line.startswith(f'servekit_capture_records_total{{outcome="{outcome}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_every_door_records_each_prediction_once(serve: Any, tmp_path: Path) -> None:
    write_project(tmp_path / "m", {"model.py": MODEL})
    sink = tmp_path / "captured"
    server, grpc_port = grpc_serve(
        serve,
        f"{tmp_path}/m/model.py:predict",
        *("--processes", "2", "--async-workers", "2", "--capture", f"file://{sink}"),
    )

    def sync(i: int) -> int:
        body = {"data": {"x": [i, 1.5], "tag": "user" if i % 10 == 0 else ""}}
        return post_json(f"{server.url}/model", body, {"X-Request-ID": f"sync-{i}"}).status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(sync, range(80))) == {200}
    failed = post_json(f"{server.url}/model", {"data": {"x": [1], "tag": "fail"}})
    assert failed.status == 500
    jobs = [submit(server, {"x": [j, 0.5]}) for j in range(10)]
    for job in jobs:
        assert wait_done(server, job)["status"] == "succeeded"
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
    for g in range(10):
        x = tgrpc.InferInput("x", [2], "FP64")
        x.set_data_from_numpy(np.array([g, 2.0]))
        client.infer(server_model(server), [x], headers={"x-request-id": f"grpc-{g}"})
    assert server.stop() == 0  # SIGTERM: every process writes what it queued
    found = records(sink)
    by_protocol: dict[str, int] = {}
    for record in found:
        by_protocol[record["protocol"]] = by_protocol.get(record["protocol"], 0) + 1
    assert by_protocol == {"domino": 80 + 1 + 10, "v2": 10, "user": 8}
    ids = [r["event_id"] for r in found if r["protocol"] != "user"]
    assert len(ids) == len(set(ids)), "one record per prediction"
    assert {f"sync-{i}" for i in range(80)} | set(jobs) | {f"grpc-{g}" for g in range(10)} <= set(
        ids
    )
    sync_7 = next(r for r in found if r["event_id"] == "sync-7")
    assert (sync_7["inputs"], sync_7["result"], sync_7["status"]) == (
        {"x": [7.0, 1.5], "tag": ""},
        {"y": [14.0, 3.0]},
        200,
    )
    failure = next(r for r in found if r["status"] == 500)
    assert failure["error"] == "ValueError: asked to fail"
    mine = [r for r in found if r["protocol"] == "user"]
    assert {r["event_id"] for r in mine} == {f"sync-{i}" for i in range(0, 80, 10)}
    assert mine[0]["result"] == "mine"


def server_model(server: Server) -> str:
    return str(http("GET", f"{server.url}/v2/models/m").body["name"])


@pytest.mark.parametrize("scheme", ["http", "redis"])
def test_a_dead_sink_costs_no_answer_and_counts_the_loss(
    serve: Any, tmp_path: Path, scheme: str
) -> None:
    write_project(tmp_path / "m", {"model.py": MODEL})
    dead = f"{scheme}://127.0.0.1:{free_port()}/"
    server = serve(f"{tmp_path}/m/model.py:predict", "--processes", "2", "--capture", dead)
    began = time.monotonic()
    for i in range(40):
        assert post_json(f"{server.url}/model", {"data": {"x": [i]}}).status == 200
    assert time.monotonic() - began < 10
    deadline = time.monotonic() + 15
    while metric(server, "failed") + metric(server, "dropped") < 40:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    assert metric(server, "written") == 0
    assert server.log().count("the capture sink failed") <= 2  # once a minute per process


CLASSIFIER = """
    def predict(tenure: float, plan: str) -> int:
        return int(tenure < 12)
"""


def test_ground_truth_joins_the_captured_predictions_in_servekit_monitor(
    serve: Any, tmp_path: Path
) -> None:
    write_project(tmp_path / "churn", {"model.py": CLASSIFIER})
    sink = tmp_path / "captured"
    token = {"Authorization": "Bearer t0ken"}
    server = serve(
        f"{tmp_path}/churn/model.py:predict",
        *("--processes", "2", "--capture", f"file://{sink}"),
        env={"SERVEKIT_ACCESS_TOKENS": "t0ken"},
    )
    rows = [(float(t), "basic" if t % 3 else "pro") for t in range(40)]
    for index, (tenure, plan) in enumerate(rows):
        body = {"data": {"tenure": tenure, "plan": plan}}
        answer = post_json(f"{server.url}/model", body, {**token, "X-Request-ID": f"c-{index}"})
        assert answer.status == 200
    truth = [{"event_id": f"c-{i}", "label": int(t < 10)} for i, (t, _) in enumerate(rows)]
    path = f"{server.url}/models/churn/latest/ground-truth"
    assert post_json(path, truth, token).body == {"accepted": 40}
    refused = post_json(f"{server.url}/ground-truth", [{"event_id": "x"}], token)
    assert refused.status == 400
    assert refused.body["error"]["message"].startswith('ground_truth[0] must be {"event_id"')
    assert post_json(path, truth[:1]).status == 401
    assert server.stop() == 0
    labels = [orjson.loads(x) for x in (sink / "ground-truth.jsonl").read_bytes().splitlines()]
    assert [(x["event_id"], x["label"]) for x in labels] == [
        (t["event_id"], t["label"]) for t in truth
    ]
    baseline = tmp_path / "train.csv"
    baseline.write_text(
        "tenure,plan,prediction\n" + "".join(f"{t},{p},{int(t < 12)}\n" for t, p in rows)
    )
    out = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "servekit", "monitor", "--records", str(sink), "--baseline",
         str(baseline), "--prediction-column", "prediction", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = orjson.loads((out / "summary.json").read_bytes())
    # 2 of 40 wrong (tenure 10 and 11): the labels joined every captured prediction
    assert (summary["quality"]["labels"], summary["quality"]["joined"]) == (40, 40)
    assert summary["quality"]["metrics"]["accuracy"] == pytest.approx(38 / 40)


def test_ground_truth_without_capture_is_409(serve: Any, tmp_path: Path) -> None:
    write_project(tmp_path / "churn", {"model.py": CLASSIFIER})
    server = serve(f"{tmp_path}/churn/model.py:predict")
    refused = post_json(f"{server.url}/ground-truth", [{"event_id": "e", "label": 1}])
    assert refused.status == 409
    assert "set SERVEKIT_CAPTURE" in refused.body["error"]["message"]
