"""``servekit monitor``'s report in a real browser: Debian's headless Chromium, driven
by selenium, opens report.html from disk with every network request blocked; it renders
one chart per feature, no script error, and a screenshot lands in ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from tests.components.monitor.known_drift import (
    draw,
    labels_for,
    monitor,
    write_labels,
    write_records,
)
from tests.integration.test_tester_page import browser, page_errors, screenshot  # noqa: F401

pytestmark = pytest.mark.integration


def test_the_report_renders_offline_with_a_chart_per_feature(tmp_path: Path, browser: Any) -> None:  # noqa: F811
    rng = np.random.default_rng(3)
    draw(rng, 3000).to_csv(tmp_path / "baseline.csv", index=False)
    frame = draw(rng, 2400, shifted=True)
    events = write_records(tmp_path / "records", frame)
    write_labels(tmp_path / "records", events, labels_for(frame, rng, wrong=0.3))
    code, _, err = monitor(
        "--records", str(tmp_path / "records"), "--baseline", str(tmp_path / "baseline.csv"),
        "--prediction-column", "churn", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert (code, err) == (1, "")

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    try:
        browser.get((tmp_path / "out" / "report.html").as_uri())
        charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart.feature")
        names = [chart.get_attribute("data-name") for chart in charts]
        assert names[:2] == ["tenure", "plan"]  # the drifted first
        assert sorted(names) == ["active", "plan", "region", "spend", "tenure"]
        for chart in charts:
            svg = chart.find_element(By.TAG_NAME, "svg")
            assert svg.size["width"] > 200, names
            assert svg.size["height"] > 100, names
            assert chart.find_elements(By.CSS_SELECTOR, "path, use")  # bars drawn
        assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart.quality svg")) == 1
        assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart.prediction svg")) == 1
        crossed = browser.find_elements(By.CSS_SELECTOR, "#drift tr.crossed td:first-child")
        assert [cell.text for cell in crossed] == ["tenure", "plan"]
        assert "2 threshold(s) crossed" in browser.find_element(By.ID, "verdict").text
        loaded = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert loaded == []  # nothing fetched: no fonts, scripts or images from anywhere
        assert page_errors(browser) == []
        screenshot(browser, "monitor-report.png")
    finally:
        browser.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
