"""ONNX models on a real uWSGI server: `servekit serve model.onnx`, and the session helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import http, post_json, run_cli, write_project
from tests.onnx_models import adder, classifier, logistic

pytestmark = pytest.mark.integration


def test_an_onnx_model_is_served_with_typed_validation(serve, tmp_path: Path) -> None:
    model = adder(tmp_path / "adder.onnx")
    server = serve(str(model), "--processes", "2")
    ready = http("GET", f"{server.url}/readyz").body
    assert ready["runtime"]["runtime"] == "onnx"
    assert ready["runtime"]["providers"] == ["CPUExecutionProvider"]
    reply = post_json(f"{server.url}/model", {"data": {"a": [[1, 2, 3]], "b": [[1, 1, 1]]}})
    assert reply.status == 200, reply.body
    assert reply.body["result"] == {"total": [[2, 3, 4]], "doubled": [[4, 6, 8]]}
    bad = post_json(f"{server.url}/model", {"data": {"a": [[1, 2]], "b": [[1, 1, 1]]}})
    assert bad.status == 422
    assert bad.body["error"]["details"][0]["expected"] == "tensor float32[batch, 3]"
    assert "onnx session ready" in server.log()


def test_a_python_model_uses_an_onnx_session_for_the_heavy_part(serve, tmp_path: Path) -> None:
    logistic(tmp_path / "logistic.onnx")
    write_project(
        tmp_path,
        {
            "model.py": """
        import numpy as np
        from servekit.runtimes.onnx import session

        class Scorer:
            def load(self):
                self.session = session("logistic.onnx")

            def predict(self, features: list[float]) -> dict:
                x = np.asarray([features], dtype=np.float32)
                [[p]] = self.session.run(None, {"features": x})[0]
                return {"probability": round(float(p), 4), "label": bool(p >= 0.5)}
    """
        },
    )
    server = serve(f"{tmp_path}/model.py:Scorer", "--processes", "2")
    reply = post_json(f"{server.url}/model", {"data": {"features": [0.0] * 20}})
    assert reply.body["result"] == {"probability": 0.525, "label": True}


def test_an_onnx_classifier_over_http(serve, tmp_path: Path) -> None:
    model = str(classifier(tmp_path / "classifier.onnx"))
    server = serve(model, "--processes", "2", "--model-version", "2")
    reply = post_json(
        f"{server.url}/models/churn/2/model", {"data": {"scores": [[0.0, 0.0], [0.0, 3.0]]}}
    )
    assert reply.status == 200, reply.body
    assert reply.body["result"]["label"] == [0, 1]
    first, second = reply.body["result"]["probabilities"]
    assert first == {"0": 0.5, "1": 0.5}
    assert second["1"] > 0.95


def test_preload_is_refused_for_onnx_models(tmp_path: Path) -> None:
    model = adder(tmp_path / "adder.onnx")
    result = run_cli(["serve", str(model), "--preload", "--print-config"])
    assert result.returncode == 0
    assert "lazy-apps = true" in result.stdout
    assert "--preload ignored for ONNX models" in result.stderr
