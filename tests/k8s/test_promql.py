"""What the queries answer, with promtool's unit tests: the p95 adapter rule at zero
traffic, and the joins on servekit_build_info when a pod is scraped twice (the
prometheus.io annotations' job and a ServiceMonitor), each with its control."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.k8s.conftest import MONITORING_DIR, tool
from tests.k8s.test_monitoring import adapter_exprs, grafana_to_promql, metric_names, panel_exprs

JOIN = "max by (namespace, pod, model_name, model_version) ("
PLAIN_JOIN = re.compile(re.escape(JOIN) + r"(servekit_build_info(?:\{[^}]*\})?)\)")
POD = 'namespace="ml", pod="churn-v1-a"'


def promtool_test(folder: Path, groups: list[dict[str, Any]], tests: list[dict[str, Any]]) -> str:
    """``promtool test rules`` of ``tests`` over ``groups``; its output, "" when it passed."""
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    document = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (folder / "tests.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    done = subprocess.run(
        [tool("promtool"), "test", "rules", "tests.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def p95_test(expr: str) -> list[dict[str, Any]]:
    """Pod a has had no request for minutes, pod b gets 10 a minute, all under 0.1 s."""
    series = []
    for pod, values in (("a", "5x10"), ("b", "0+10x10")):
        labels = f'namespace="ml", pod="{pod}", route="/model"'
        for le in ("0.1", "+Inf"):
            series.append(
                {"series": f'servekit_request_duration_seconds_bucket{{{labels}, le="{le}"}}'}
            )
            series[-1]["values"] = values
        series.append({"series": f"servekit_request_duration_seconds_count{{{labels}}}"})
        series[-1]["values"] = values
    expected = [{"labels": '{pod="a"}', "value": 0}, {"labels": '{pod="b"}', "value": 0.095}]
    return [
        {
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": expected}],
        }
    ]


def test_the_p95_rule_answers_0_without_traffic(tmp_path: Path) -> None:
    """NaN (histogram_quantile of no requests) would keep the HPA from scaling down."""
    p95 = next(e for e in adapter_exprs() if "histogram_quantile" in e)
    assert promtool_test(tmp_path, [], p95_test(p95)) == ""
    plain = p95[1 : p95.index(" >= 0)")]  # the control: histogram_quantile alone
    assert plain.startswith("histogram_quantile(")
    assert "NaN" in promtool_test(tmp_path, [], p95_test(plain))


def scraped_twice(exprs: list[str]) -> list[dict[str, Any]]:
    """Every metric ``exprs`` name, for one pod scraped by two jobs; each expression
    is expected to answer one series (one model version, one pod)."""
    series = {}
    for name in set().union(*(metric_names(e) for e in exprs)) - {"servekit_build_info"}:
        le = ', le="+Inf"' if name.endswith("_bucket") else ""
        for job in ("kubernetes-pods", "ml/churn-v1-servekit"):
            labels = f'job="{job}", {POD}, route="/model", code="500"{le}'
            series[f"{name}{{{labels}}}"] = "0+10x10"
    for job in ("kubernetes-pods", "ml/churn-v1-servekit"):
        build = f'job="{job}", {POD}, model_name="churn", model_version="1", version="0.1.0"'
        series[f"servekit_build_info{{{build}}}"] = "1x10"
    checks = [
        {"expr": f"count({e})", "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 1}]}
        for e in exprs
    ]
    inputs = [{"series": name, "values": values} for name, values in sorted(series.items())]
    return [{"interval": "1m", "input_series": inputs, "promql_expr_test": checks}]


def test_the_dashboards_joins_survive_a_pod_scraped_twice(tmp_path: Path) -> None:
    joined = [grafana_to_promql(e) for e in panel_exprs() if "servekit_build_info" in e]
    assert len(joined) >= 10
    assert all(JOIN + "servekit_build_info" in e for e in joined)
    assert promtool_test(tmp_path, [], scraped_twice(joined)) == ""
    plain = [PLAIN_JOIN.sub(r"\1", e) for e in joined]  # the control: the join as it was
    assert "many-to-many matching not allowed" in promtool_test(tmp_path, [], scraped_twice(plain))


def test_the_alerts_joins_survive_a_pod_scraped_twice(tmp_path: Path) -> None:
    """prometheusrule-tests.yaml has a pod scraped twice; the plain join fails it."""
    spec = yaml.safe_load((MONITORING_DIR / "prometheusrule.yaml").read_text())["spec"]
    tests = yaml.safe_load((MONITORING_DIR / "prometheusrule-tests.yaml").read_text())["tests"]
    twice = [
        t for t in tests if any('job="kubernetes-pods"' in s["series"] for s in t["input_series"])
    ]
    assert len(twice) == 1
    assert promtool_test(tmp_path, spec["groups"], twice) == ""
    for rule in spec["groups"][0]["rules"]:
        rule["expr"] = PLAIN_JOIN.sub(r"\1", rule["expr"])
    assert "many-to-many matching not allowed" in promtool_test(tmp_path, spec["groups"], twice)
