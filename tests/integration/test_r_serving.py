"""R models on a real multi-process uWSGI server."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, http, post_json, write_project
from tests.metrics_parsing import value

pytestmark = pytest.mark.integration


def test_the_r_example_is_served_by_several_workers(serve) -> None:
    server = serve(f"{EXAMPLES}/r_score/model.R:predict", "--processes", "2")
    url = f"{server.url}/model"
    document = {"data": {"tenure_months": 3, "monthly_spend": 80.5}}
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: post_json(url, document), range(40)))
    assert {r.status for r in replies} == {200}
    assert {str(r.body["result"]) for r in replies} == {
        "{'churn_probability': 0.6125, 'will_churn': True}"
    }
    bad = post_json(url, {"data": {"tenure_months": 3}})
    assert bad.status == 422
    assert bad.body["error"]["details"][0]["path"] == "data.monthly_spend"
    assert http("GET", f"{server.url}/readyz").body["runtime"]["runtime"] == "r"
    assert "scored a customer" in server.log()


def test_a_crashing_r_function_costs_one_request(serve, tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "model.R": """
        predict <- function(x) {
          cat("about to answer\\n")
          if (x == 0) quit(save = "no", status = 1)
          if (x < 0) stop("negative input")
          x * 2
        }
    """
        },
    )
    server = serve(f"{tmp_path}/model.R:predict", "--processes", "1")
    url = f"{server.url}/model"
    assert post_json(url, {"data": {"x": 2}}).body["result"] == 4
    crashed = post_json(url, {"data": {"x": 0}})
    assert (crashed.status, crashed.body["error"]["code"]) == (500, "MODEL_ERROR")
    failed = post_json(url, {"data": {"x": -1}})
    assert failed.body["error"]["message"] == "R error: negative input"
    assert post_json(url, {"data": {"x": 5}}).body["result"] == 10


def test_r_models_get_the_same_auth_and_metrics(serve) -> None:
    server = serve(
        f"{EXAMPLES}/r_score/model.R:predict",
        "--processes",
        "2",
        env={"SERVEKIT_ACCESS_TOKENS": "r-token"},
    )
    url = f"{server.url}/model"
    document = {"data": {"tenure_months": 24, "monthly_spend": 20}}
    assert post_json(url, document).status == 401
    for _ in range(3):
        assert post_json(url, document, {"Authorization": "Bearer r-token"}).status == 200
    text = http("GET", f"{server.url}/metrics").raw.decode()
    assert value(text, "servekit_requests_total", route="/model", code="200") == 3
    assert value(text, "servekit_auth_failures_total") == 1
