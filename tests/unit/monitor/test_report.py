"""The page: self-contained, one chart per feature with values, crossed rows marked,
and every name from the data escaped."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pandas as pd

from servekit.monitor.report import render
from servekit.monitor.sample import sample_of
from servekit.monitor.summary import summarise
from servekit.monitor.thresholds import Thresholds
from servekit.monitor.verdict import judge
from servekit.monitor.writing import charts_of

T0 = datetime(2026, 12, 4, tzinfo=timezone.utc)
NAME = '<img src=x onerror="alert(1)">$x$'


def page() -> str:
    rows = [{"time": T0, "event_id": str(i), "inputs": {NAME: i % 7 + 50, "c": "b", "gone": None},
             "result": "yes", "status": 200} for i in range(60)]  # fmt: skip
    sample = sample_of(rows)
    baseline = pd.DataFrame({NAME: range(60), "c": ["a", "b"] * 30, "gone": [1.0] * 60})
    verdict = judge(sample, baseline, None, {"0": "yes", "1": "no"}, Thresholds())
    window = {"since": None, "until": None, "first": "a", "last": "b"}
    source = {"source": "b.csv", "rows": 60}
    summary = summarise(verdict, Thresholds(), window, sample.counts(), source, [])
    return render(summary, charts_of(verdict), "")


def test_the_page_stands_alone_and_escapes_names() -> None:
    html = page()
    assert "<img" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;$x$" in html
    assert "<script" not in html
    assert re.findall(r'(?:src|href)="(?!#)|url\((?!#)|@import', html) == []  # nothing to fetch
    assert html.count('class="chart feature"') == 2  # "gone" has no values now: no chart
    assert html.count('class="crossed"') == 2  # the number moved, the category too
    assert "Captured but not in the baseline" not in html
