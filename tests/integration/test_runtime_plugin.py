"""A third party's runtime plugin, installed as a package: ``examples/joblib-runtime``
(distribution ``servekit-joblib``), found through its ``servekit.runtimes`` entry point and
served on a real uWSGI server as ``servekit serve model.joblib``: the contract proved from
outside servekit.

scripts/test installs the example with ``pip install ./examples/joblib-runtime`` (a
normal install, not an editable one); these tests check that what is installed is this
checkout's example.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tests.conftest import (
    EXAMPLES,
    Server,
    free_port,
    http,
    post_json,
    run_cli,
    start_server,
)

pytestmark = pytest.mark.integration

SOURCE = EXAMPLES / "joblib-runtime"
INSTALL = f"{sys.executable} -m pip install {SOURCE} (scripts/test does)"
COLUMNS = ["tenure", "spend", "calls", "age"]


@pytest.fixture(scope="module", autouse=True)
def plugin_installed() -> None:
    """servekit-joblib is installed, as a package, from this checkout's example."""
    try:
        dist = metadata.distribution("servekit-joblib")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None:
        pytest.fail(f"the example plugin servekit-joblib is not installed: {INSTALL}", False)
    for source in sorted((SOURCE / "src" / "servekit_joblib").glob("*.py")):
        installed = Path(str(dist.locate_file(f"servekit_joblib/{source.name}")))
        if not installed.is_file() or installed.read_bytes() != source.read_bytes():
            pytest.fail(
                f"the installed servekit-joblib is not {SOURCE} as it is now ({installed} "
                f"is missing or differs; an editable install does not count): {INSTALL}",
                False,
            )


@dataclass
class Served:
    """A trained estimator, the folder of its ``.joblib`` file, and its server."""

    model: Any
    folder: Path
    server: Server


def _data(seed: int, rows: int) -> np.ndarray:
    return np.asarray(np.random.default_rng(seed).normal(size=(rows, len(COLUMNS))).round(3))


def _labels(x: np.ndarray) -> np.ndarray:
    """Three classes."""
    return np.asarray((x[:, 0] - x[:, 2] > 0).astype(int) + (x[:, 1] > 0.8).astype(int))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A logistic regression on a numpy array, served as `servekit serve model.joblib`."""
    folder = tmp_path_factory.mktemp("joblib-predict")
    x = _data(7, 90)
    model = LogisticRegression(max_iter=500).fit(x, _labels(x))
    joblib.dump(model, folder / "model.joblib")
    server = start_server(["model.joblib", "--processes", "2"], folder / "server.log", cwd=folder)
    yield Served(model, folder, server)
    server.stop()


@pytest.fixture(scope="module")
def probabilities(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One fitted on a DataFrame, served with SERVEKIT_JOBLIB_METHOD=predict_proba."""
    folder = tmp_path_factory.mktemp("joblib-proba")
    x = _data(11, 90)
    model = LogisticRegression(max_iter=500).fit(pd.DataFrame(x, columns=COLUMNS), _labels(x))
    joblib.dump(model, folder / "model.joblib")
    server = start_server(
        ["model.joblib", "--processes", "1"],
        folder / "server.log",
        cwd=folder,
        env={"SERVEKIT_JOBLIB_METHOD": "predict_proba"},
    )
    yield Served(model, folder, server)
    server.stop()


def test_servekit_runtimes_lists_the_plugin_with_its_package_and_setting() -> None:
    listed = run_cli(["runtimes", "--json"])
    assert listed.returncode == 0, listed.stderr
    (joblib_runtime,) = [r for r in json.loads(listed.stdout) if r["name"] == "joblib"]
    assert joblib_runtime["package"] == "servekit-joblib"
    assert joblib_runtime["version"] == metadata.version("servekit-joblib")
    assert joblib_runtime["forms"] == ["FILE.joblib"]
    assert joblib_runtime["available"] is True
    assert joblib_runtime["install"] == "pip install servekit-joblib"
    (setting,) = joblib_runtime["settings"]
    assert setting["env"] == "SERVEKIT_JOBLIB_METHOD"
    assert setting["default"] == "predict"
    assert "predict_proba" in setting["doc"]


def test_finding_the_plugin_imports_neither_joblib_nor_scikit_learn() -> None:
    probe = (
        "import sys\n"
        "from servekit.runtimes import parse_target\n"
        "print(parse_target('model.joblib').runtime)\n"
        "print(sorted({'joblib', 'sklearn', 'pandas'} & set(sys.modules)))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert found.stdout.split("\n")[:2] == ["joblib", "[]"], found.stderr


def test_a_joblib_model_answers_as_the_estimator_predicts(classifier: Served) -> None:
    rows = _data(123, 12)
    url = classifier.server.url
    reply = post_json(f"{url}/model", {"data": {"instances": rows.tolist()}})
    assert reply.status == 200, reply.body
    expected = classifier.model.predict(rows).tolist()
    assert len(set(expected)) > 1, "rows that the model tells apart"
    assert reply.body["result"] == expected
    ready = http("GET", f"{url}/readyz").body["runtime"]
    assert ready == {
        "runtime": "joblib",
        "target": str(classifier.folder / "model.joblib"),
        "estimator": "LogisticRegression",
        "method": "predict",
        "features": 4,
    }
    # Every door is the plugin's too: KServe V1 takes the instances as one batch.
    v1 = post_json(
        f"{url}/v1/models/{classifier.folder.name}:predict", {"instances": rows.tolist()}
    )
    assert v1.status == 200, v1.body
    assert v1.body == {"predictions": expected}
    # The signature is documented: rows of exactly four numbers.
    document = http("GET", f"{url}/openapi.json").body
    instances = document["components"]["schemas"]["Data"]["properties"]["instances"]
    assert instances["items"]["minItems"] == instances["items"]["maxItems"] == 4
    assert instances["items"]["items"]["type"] == "number"


def test_the_method_setting_serves_predict_proba(probabilities: Served) -> None:
    rows = _data(321, 6)
    reply = post_json(f"{probabilities.server.url}/model", {"data": {"instances": rows.tolist()}})
    assert reply.status == 200, reply.body
    expected = probabilities.model.predict_proba(pd.DataFrame(rows, columns=COLUMNS))
    assert np.asarray(reply.body["result"]) == pytest.approx(expected, rel=1e-12)
    ready = http("GET", f"{probabilities.server.url}/readyz").body["runtime"]
    assert ready["method"] == "predict_proba"
    assert ready["features"] == COLUMNS, "fitted on a DataFrame: it gets one, by column"
    assert "feature names" not in probabilities.server.log()  # scikit-learn's warning


@pytest.mark.parametrize(
    ("instances", "expected", "got"),
    [
        ([[0.1, 0.2, 0.3]], "tensor float64[?, 4]", "an array of shape [1, 3]"),
        ([0.1, 0.2, 0.3, 0.4], "tensor float64[?, 4]", "an array of shape [4]"),
        ([[0.1, 0.2, "x", 0.4]], "tensor float64[?, 4]", None),
    ],
)
def test_a_wrong_shape_is_a_422_naming_the_instances(
    classifier: Served, instances: list[Any], expected: str, got: str | None
) -> None:
    reply = post_json(f"{classifier.server.url}/model", {"data": {"instances": instances}})
    assert reply.status == 422, reply.body
    (problem,) = reply.body["error"]["details"]
    assert problem["path"].startswith("data.instances"), problem
    assert problem["expected"] == expected
    if got is not None:
        assert problem["got"] == got
    assert "Traceback" not in classifier.server.log()


@pytest.mark.parametrize(
    ("method", "needle"),
    [
        ("no_such_method", "has no method 'no_such_method'"),
        ("classes_", "has no method 'classes_'"),  # an attribute, not a method
    ],
)
def test_a_bad_method_stops_start_up_with_one_line(
    classifier: Served, method: str, needle: str
) -> None:
    result = run_cli(
        ["serve", "model.joblib", "--processes", "2", "--port", str(free_port())],
        cwd=classifier.folder,
        env={"SERVEKIT_JOBLIB_METHOD": method},
    )
    assert result.returncode == 2, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    errors = [r for r in records if r["level"] in ("error", "critical")]
    assert len(errors) == 1, result.stderr  # one line, not one per worker
    message = errors[0]["message"]
    assert message.startswith(f"servekit: error: SERVEKIT_JOBLIB_METHOD={method!r}: "), message
    assert needle in message
    assert "(it has: predict, predict_proba," in message


def test_a_missing_file_stops_start_up_before_any_worker(tmp_path: Path) -> None:
    result = run_cli(["serve", "absent.joblib", "--port", str(free_port())], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"file not found: {tmp_path / 'absent.joblib'}" in result.stderr
    assert "spawned uWSGI worker" not in result.stderr
