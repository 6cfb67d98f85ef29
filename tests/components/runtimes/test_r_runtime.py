"""The R runtime with real R (Debian's r-base-core and r-cran-jsonlite)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from servekit.core.dataplane import DataPlane
from servekit.errors import InvalidArguments, LoadError, ModelError, Timeout
from servekit.loading import load_dataplane
from servekit.protocols.domino import DominoCodec
from servekit.settings import Settings
from tests.conftest import write_project

if shutil.which("Rscript") is None:  # never a silent skip: say what to install
    pytest.fail(
        "Rscript is missing: apt-get install r-base-core r-cran-jsonlite "
        "(scripts/test installs them)",
        pytrace=False,
    )

MODEL = """
    predict <- function(x, y = 2, ...) {
      print("printed by R")
      extra <- list(...)
      if (identical(x, "stop")) stop("no good: ", x)
      if (identical(x, "quit")) quit(save = "no", status = 4)
      if (identical(x, "sleep")) Sys.sleep(30)
      list(x = x, class = class(x), y = y, extra = extra)
    }
    shapes <- function(what) {
      switch(what,
        df = data.frame(a = 1:2, b = c("u", "v"), stringsAsFactors = TRUE),
        mat = matrix(1:6, nrow = 2),
        special = list(na = NA, nan = NaN, inf = -Inf, factor = factor("lvl"),
                       date = as.Date("2024-01-02"),
                       time = as.POSIXct("2024-01-02 03:04:05", tz = "UTC"),
                       pi = pi, third = 1 / 3, big = 2^53 + 2, vec = c(1.5, 2.5), one = 7L),
        unicode = "h\\u00e9llo \\u2713")
    }
    total <- function(x) sum(x)
"""


@pytest.fixture
def r_plane(tmp_path: Path) -> Iterator[Any]:
    write_project(tmp_path, {"model.R": MODEL})
    planes: list[DataPlane] = []

    def make(name: str = "predict", **settings: Any) -> DataPlane:
        plane = load_dataplane(Settings(target=f"{tmp_path}/model.R:{name}", **settings))
        planes.append(plane)
        return plane

    yield make
    for plane in planes:
        plane.runtime.close()


def call(plane: DataPlane, document: Any) -> Any:
    return orjson.loads(DominoCodec(plane).predict(orjson.dumps(document), "r").body)["result"]


@pytest.mark.parametrize(
    ("value", "r_class", "back"),
    [
        (1, "integer", 1),
        (3_000_000_000, "numeric", 3_000_000_000),
        (1.5, "numeric", 1.5),
        ("text", "character", "text"),
        (True, "logical", True),
        (None, "logical", None),
        ({"k": 1, "j": "v"}, "list", {"k": 1, "j": "v"}),
        ([1, None, "a"], "list", [1, None, "a"]),
        ([], "list", []),
        ([{"a": 1}, {"a": 2}], "list", [{"a": 1}, {"a": 2}]),
        ("h\u00e9llo \u2713", "character", "h\u00e9llo \u2713"),
    ],
    ids=[
        "int",
        "bigint",
        "real",
        "string",
        "bool",
        "null",
        "object",
        "array",
        "empty",
        "array-of-objects",
        "unicode",
    ],
)
def test_json_to_r_and_back(r_plane: Any, value: Any, r_class: str, back: Any) -> None:
    result = call(r_plane(), {"data": {"x": value}})
    assert result["class"] == r_class
    assert result["x"] == back


def test_positional_defaults_and_dots(r_plane: Any) -> None:
    plane = r_plane()
    assert call(plane, {"parameters": [1, 5]})["y"] == 5
    assert call(plane, {"data": {"x": 1}})["y"] == 2
    assert call(plane, {"data": {"x": 1, "z": "extra"}})["extra"] == {"z": "extra"}
    with pytest.raises(InvalidArguments) as caught:
        DominoCodec(plane).predict(b'{"data": {"y": 1}}', "r")
    assert caught.value.problems[0].path == "data.x"


def test_r_to_json_shapes(r_plane: Any) -> None:
    plane = r_plane("shapes")
    assert call(plane, {"data": {"what": "df"}}) == [{"a": 1, "b": "u"}, {"a": 2, "b": "v"}]
    assert call(plane, {"data": {"what": "mat"}}) == [[1, 3, 5], [2, 4, 6]]
    special = call(plane, {"data": {"what": "special"}})
    assert special == {
        "na": None,
        "nan": None,
        "inf": None,
        "factor": "lvl",
        "date": "2024-01-02",
        "time": "2024-01-02T03:04:05Z",
        "pi": 3.141592653589793,
        "third": 1 / 3,
        "big": 2**53 + 2,
        "vec": [1.5, 2.5],
        "one": 7,
    }
    assert call(plane, {"data": {"what": "unicode"}}) == "h\u00e9llo \u2713"


def test_simplify_makes_vectors(r_plane: Any) -> None:
    with pytest.raises(ModelError, match="invalid 'type' \\(list\\)"):
        DominoCodec(r_plane("total")).predict(b'{"data": {"x": [1, 2, 3]}}', "r")
    assert call(r_plane("total", r_simplify=True), {"data": {"x": [1, 2, 3]}}) == 6


def test_errors_crashes_and_hangs_cost_one_request(r_plane: Any) -> None:
    plane = r_plane(timeout=2)
    with pytest.raises(ModelError, match="R error: no good: stop"):
        DominoCodec(plane).predict(b'{"data": {"x": "stop"}}', "r")
    first_pid = plane.runtime.details()["r_pid"]
    with pytest.raises(ModelError, match="R worker exited \\(status 4\\)"):
        DominoCodec(plane).predict(b'{"data": {"x": "quit"}}', "r")
    assert call(plane, {"data": {"x": 1}})["x"] == 1
    with pytest.raises(Timeout):
        DominoCodec(plane).predict(b'{"data": {"x": "sleep"}}', "r")
    assert call(plane, {"data": {"x": 2}})["x"] == 2
    assert plane.runtime.details()["r_pid"] != first_pid


def test_startup_errors_carry_rs_message(tmp_path: Path) -> None:
    write_project(tmp_path, {"broken.R": "predict <- function(x {\n", "ok.R": "f <- 1\n"})
    with pytest.raises(LoadError, match=r"R says: .*unexpected"):
        load_dataplane(Settings(target=f"{tmp_path}/broken.R:predict"))
    with pytest.raises(LoadError, match=r"R says: .*predict"):
        load_dataplane(Settings(target=f"{tmp_path}/ok.R:predict"))


def test_an_rscript_that_is_not_the_harness_is_a_clear_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when the harness file is missing from an installation: R prints its fatal error
    # on stdout, where servekit expects the harness's JSON hello.
    fake = tmp_path / "bin" / "Rscript"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho \"Fatal error: cannot open file 'worker.R'\"\nexit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    write_project(tmp_path, {"model.R": "predict <- function(x) x\n"})
    with pytest.raises(LoadError, match=r"did not start: .*Fatal error: cannot open file"):
        load_dataplane(Settings(target=f"{tmp_path}/model.R:predict"))
