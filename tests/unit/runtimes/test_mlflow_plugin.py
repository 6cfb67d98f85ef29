"""The mlflow runtime plugin: the TARGETs it claims, its checks, and a cheap import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from servekit.errors import LoadError
from servekit.runtimes import check_target, make_runtime, parse_target
from servekit.runtimes.mlflow.plugin import PLUGIN
from servekit.runtimes.mlflow.runtime import MlflowRuntime
from servekit.runtimes.registry import installed


def _folder(tmp_path: Path, mlmodel: str) -> Path:
    folder = tmp_path / "churn"
    folder.mkdir()
    (folder / "MLmodel").write_text(mlmodel)
    return folder


PYFUNC = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"


def test_servekit_registers_the_mlflow_plugin() -> None:
    found = installed().plugins["mlflow"]
    assert found.plugin is PLUGIN
    assert found.package == "servekit"
    assert PLUGIN.requires == ("mlflow",)
    assert "servekit[mlflow]" in PLUGIN.install
    assert not PLUGIN.fork_safe


def test_a_folder_holding_mlmodel_is_an_mlflow_target(tmp_path: Path) -> None:
    folder = _folder(tmp_path, PYFUNC)
    target = parse_target("churn", str(tmp_path))
    assert (target.runtime, target.path) == ("mlflow", folder.resolve())
    assert target.default_model_name == "churn"
    check_target(target, tmp_path)
    runtime = make_runtime(target, tmp_path)
    assert isinstance(runtime, MlflowRuntime)
    assert runtime.model is None  # made, not loaded


@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("models:/churn/1", "churn"),
        ("models:/churn@prod", "churn"),
        ("runs:/" + "a" * 32 + "/model", "model"),
    ],
)
def test_registry_and_run_uris_are_mlflow_targets(uri: str, name: str) -> None:
    target = parse_target(uri)
    assert (target.runtime, target.uri, target.path) == ("mlflow", uri, None)
    assert target.default_model_name == name


def test_a_folder_without_a_pyfunc_flavor_is_refused(tmp_path: Path) -> None:
    target = parse_target(str(_folder(tmp_path, "flavors:\n  keras: {}\n")))
    with pytest.raises(LoadError, match="has no python_function flavor"):
        check_target(target, tmp_path)


def test_an_unreadable_mlmodel_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, PYFUNC)
    target = parse_target(str(folder))
    (folder / "MLmodel").unlink()
    (folder / "MLmodel").mkdir()  # claimed when parsed; now it cannot be read
    with pytest.raises(LoadError, match="cannot read"):
        check_target(target, tmp_path)


def test_a_uri_needs_a_tracking_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    target = parse_target("models:/churn/1")
    with pytest.raises(LoadError, match="set MLFLOW_TRACKING_URI"):
        check_target(target, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    check_target(target, tmp_path)


def test_the_entry_point_imports_neither_mlflow_nor_pandas() -> None:
    code = (
        "import sys; import servekit.runtimes.mlflow.plugin; "
        "print(sorted(m for m in ('mlflow', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
