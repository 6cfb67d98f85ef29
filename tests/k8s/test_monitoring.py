"""The dashboard, the alerts and the prometheus-adapter rules name only metrics that a
real servekit server exports (checked against a scrape of one, async on), their PromQL
parses (promtool), and the alerts fire when they should (promtool test rules)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from servekit.http.routes import ROUTES
from tests.conftest import http, post_json, write_project
from tests.k8s.conftest import TEMPLATES, tool

MONITORING = TEMPLATES / "monitoring"
ADAPTER = TEMPLATES / "components" / "hpa-custom-metrics" / "prometheus-adapter-rules.yaml"
PROMETHEUS_OWN = {"up": "Prometheus' own scrape health: a pod that stops answering /metrics"}
KUBE_STATE_METRICS = {
    "kube_job_failed": "a Job's Failed condition (the monitor's CronJob's runs)",
    "kube_job_owner": "the CronJob that made a Job",
    "kube_job_status_start_time": "when a Job started (which run is the latest)",
}
"""kube-state-metrics' series the monitor's alert reads (its promtool tests use them)."""
KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "atan2",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: strings, label matchers, ranges,
    grouping label lists and function calls removed first."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    found = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d+\w*", name):
            continue
        found.add(name)
    return found


def test_metric_names_are_found_however_the_expression_is_written() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, model_version) ("
        'rate(servekit_a_bucket{route=~"/x|up"}[5m])'
        " * on (namespace, pod) group_left (model_name) servekit_b)) > 1 and up == 0 or"
        ' sum without (code) (servekit_c{code="5xx"} offset 5m) / ignoring (x) vector(1)'
    )
    assert metric_names(expr) == {"servekit_a_bucket", "servekit_b", "up", "servekit_c"}


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return document


def panel_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def adapter_exprs() -> list[str]:
    """The adapter's queries with its template filled in as it fills it."""
    queries = []
    for rule in yaml.safe_load(ADAPTER.read_text())["rules"]:
        series = re.match(r"[\w:]+", rule["seriesQuery"]).group(0)
        queries.append(rule["seriesQuery"])
        queries.append(
            rule["metricsQuery"]
            .replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", 'namespace="ml",pod=~"a|b"')
            .replace("<<.GroupBy>>", "pod")
        )
    return queries


def grafana_to_promql(expr: str) -> str:
    return (
        expr.replace("$__rate_interval", "5m")
        .replace("$namespace", ".*")
        .replace("$model", ".*")
        .replace("$version", ".*")
    )


MODEL = """
    def predict(x: int) -> dict:
        if x < 0:
            raise ValueError("negative")
        return {"double": 2 * x}
"""


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name of a real /metrics scrape: a uWSGI server with the async API and
    a job worker, after a prediction, a Seldon prediction and an asynchronous job."""
    from tests.conftest import start_server

    folder = write_project(tmp_path_factory.mktemp("scraped"), {"model.py": MODEL})
    server = start_server(
        [
            f"{folder}/model.py:predict",
            "--processes",
            "1",
            "--async-workers",
            "1",
            "--async-max-attempts",
            "1",
        ],
        folder / "server.log",
    )
    try:
        assert post_json(f"{server.url}/model", {"data": {"x": 1}}).status == 200
        seldon = post_json(f"{server.url}/api/v1.0/predictions", {"jsonData": {"x": 2}})
        assert seldon.status == 200
        assert post_json(f"{server.url}/model", {"data": {"x": "no"}}).status == 422
        deadline = time.monotonic() + 30
        for x, outcome in ((3, "succeeded"), (-1, "failed")):  # a failed attempt too
            job = post_json(f"{server.url}/async", {"data": {"x": x}}).body["asyncPredictionId"]
            while (status := http("GET", f"{server.url}/async/{job}").body["status"]) == "queued":
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.1)
            assert status == outcome
        text = http("GET", f"{server.url}/metrics").raw.decode()
    finally:
        server.stop()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.integration
def test_the_scrape_has_the_histogram_series_and_async_metrics(scrape: set[str]) -> None:
    for histogram in ("servekit_request_duration_seconds", "servekit_async_job_duration_seconds"):
        assert {f"{histogram}_bucket", f"{histogram}_sum", f"{histogram}_count"} <= scrape
    assert {
        "servekit_async_queue_depth",
        "servekit_async_jobs_total",
        "servekit_build_info",
    } <= scrape


@pytest.mark.integration
@pytest.mark.parametrize(
    ("where", "exprs"),
    [
        ("dashboard", lambda: panel_exprs()),
        ("alerts", lambda: [r["expr"] for r in rules()]),
        ("prometheus-adapter", lambda: adapter_exprs()),
    ],
)
def test_only_metrics_servekit_exports_are_named(scrape: set[str], where: str, exprs: Any) -> None:
    named = set().union(*(metric_names(e) for e in exprs()))
    assert named, where
    others = {*PROMETHEUS_OWN, *KUBE_STATE_METRICS} if where == "alerts" else set()
    unknown = named - scrape - others
    assert unknown == set(), f"{where} names metrics servekit does not export: {sorted(unknown)}"


@pytest.mark.integration
def test_the_dashboard_covers_what_it_promises(scrape: set[str]) -> None:
    named = set().union(*(metric_names(e) for e in panel_exprs()))
    families = {
        "servekit_requests_total",
        "servekit_request_duration_seconds_bucket",
        "servekit_model_duration_seconds_sum",
        "servekit_inflight_requests",
        "servekit_model_errors_total",
        "servekit_async_queue_depth",
        "servekit_async_jobs_total",
    }
    assert families <= named
    document = dashboard()
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert {"namespace", "model", "version"} <= variables.keys()
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all("$version" in t["expr"] for t in panel["targets"]), panel["title"]


def test_the_prediction_routes_in_the_queries_are_servekits() -> None:
    routes = {r.path for r in ROUTES if r.operation in ("prediction", "seldon_predict")}
    for expr in [*panel_exprs(), *(r["expr"] for r in rules()), *adapter_exprs()]:
        for regex in re.findall(r'route=~"([^"]*)"', expr):
            assert set(regex.split("|")) == routes, expr


def promtool_check(expressions: list[str], folder: Path) -> None:
    groups = [
        {
            "name": "check",
            "rules": [{"record": f"check:{i}", "expr": e} for i, e in enumerate(expressions)],
        }
    ]
    path = folder / "exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_and_adapter_queries_parse(tmp_path: Path) -> None:
    promtool_check([grafana_to_promql(e) for e in panel_exprs()] + adapter_exprs()[1::2], tmp_path)


def test_the_alert_rules_pass_promtool_and_their_unit_tests(tmp_path: Path) -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
    shutil.copyfile(MONITORING / "prometheusrule-tests.yaml", tmp_path / "tests.yaml")
    promtool = tool("promtool")
    for command in (["check", "rules", "rules.yaml"], ["test", "rules", "tests.yaml"]):
        done = subprocess.run(
            [promtool, *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert {r["alert"] for r in rules()} == {
        "ServekitHighErrorRatio",
        "ServekitHighLatencyP99",
        "ServekitNotReady",
        "ServekitAsyncQueueBacklog",
        "ServekitMonitorJobFailed",
    }


def test_promtool_unit_tests_fail_on_a_broken_rule(tmp_path: Path) -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    for r in rule["spec"]["groups"][0]["rules"]:
        r["expr"] = r["expr"].replace("> 0.05", "> 0.5")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
    shutil.copyfile(MONITORING / "prometheusrule-tests.yaml", tmp_path / "tests.yaml")
    done = subprocess.run(
        [tool("promtool"), "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "ServekitHighErrorRatio" in done.stdout + done.stderr
