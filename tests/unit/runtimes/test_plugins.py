"""The runtime plugin contract: claims, conflicts, settings and entry points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from servekit.errors import ConfigError, LoadError
from servekit.runtimes import builtin, make_runtime, parse_target
from servekit.runtimes.plugin import PluginSetting, RuntimeContext, RuntimePlugin
from servekit.runtimes.registry import Installed, Registry, _load, installed
from servekit.runtimes.target import Target


class _Made:
    kind = "fake"

    def __init__(self, target: Target, context: RuntimeContext) -> None:
        self.target = target
        self.context = context


def _plugin(name: str, **claims: Any) -> RuntimePlugin:
    return RuntimePlugin(name=name, make=_Made, **claims)  # type: ignore[arg-type]


def _registry(*plugins: RuntimePlugin) -> Registry:
    return Registry(
        Installed(p, f"pkg-{p.name}", "1.0")
        for p in (builtin.PYTHON, builtin.ONNX, builtin.R, *plugins)
    )


def test_servekit_registers_its_own_runtimes_through_entry_points() -> None:
    found = installed().plugins
    assert {"python", "onnx", "r"} <= set(found)
    assert found["onnx"].plugin is builtin.ONNX
    assert found["python"].package == "servekit"


def test_each_kind_of_claim_reads_the_target(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "MARK").write_text("x")
    registry = _registry(
        _plugin("folder", markers=("MARK",)),
        _plugin("uri", schemes=("store",)),
        _plugin("jl", suffixes=(".jl",), named=True),
    )
    folder = registry.parse("model", str(tmp_path))
    assert (folder.runtime, folder.path, folder.name) == ("folder", tmp_path / "model", "")
    assert folder.default_model_name == "model"
    assert folder.project_dir() == tmp_path / "model"
    uri = registry.parse("store:/churn/3", str(tmp_path))
    assert (uri.runtime, uri.uri, uri.path) == ("uri", "store:/churn/3", None)
    assert uri.default_model_name == "churn"
    jl = registry.parse("m.jl:predict", str(tmp_path))
    assert (jl.runtime, jl.name, jl.path) == ("jl", "predict", tmp_path / "m.jl")
    # a folder without the marker is not claimed by it
    (tmp_path / "other").mkdir()
    with pytest.raises(LoadError, match="no installed runtime serves TARGET 'other'"):
        registry.parse("other", str(tmp_path))


def test_a_run_uri_is_named_after_its_path_not_its_id() -> None:
    spec = "runs:/0123456789abcdef0123456789abcdef/model"
    run = Target(spec, "mlflow", "", uri=spec)
    assert run.default_model_name == "model"
    assert Target("m", "mlflow", "", uri="models:/churn@champion").default_model_name == "churn"


def test_a_suffix_claim_is_stronger_than_a_module_name(tmp_path: Path) -> None:
    # model.R:predict is also a valid module path (model.R); the suffix claim wins.
    assert _registry().parse("model.R:predict", str(tmp_path)).runtime == "r"


def test_two_plugins_claiming_one_target_is_an_error_naming_both(tmp_path: Path) -> None:
    registry = _registry(_plugin("onnx2", suffixes=(".onnx",)))
    with pytest.raises(LoadError) as caught:
        registry.parse("model.onnx", str(tmp_path))
    message = caught.value.message
    assert "onnx (from pkg-onnx 1.0)" in message
    assert "onnx2 (from pkg-onnx2 1.0)" in message
    assert "SERVEKIT_RUNTIME=" in message
    # SERVEKIT_RUNTIME chooses; a runtime that does not claim the TARGET says so
    assert registry.parse("model.onnx", str(tmp_path), "onnx2").runtime == "onnx2"
    with pytest.raises(LoadError, match=r"the r runtime .* does not serve TARGET 'model.onnx'"):
        registry.parse("model.onnx", str(tmp_path), "r")
    with pytest.raises(LoadError, match="no runtime named 'julia' is installed"):
        registry.parse("model.onnx", str(tmp_path), "julia")


def test_two_plugins_of_one_name_are_refused() -> None:
    other = RuntimePlugin(name="onnx", make=_Made, suffixes=(".ox",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"two runtime plugins are named 'onnx'.*pkg-onnx"):
        Registry([Installed(builtin.ONNX, "servekit", "1"), Installed(other, "pkg-onnx", "2")])


class _Dist:
    version = "0.3"
    metadata: ClassVar[dict[str, str]] = {"Name": "acme-runtime"}


class _Entry:
    dist = _Dist()

    def __init__(self, name: str, loaded: Any) -> None:
        self.name = name
        self.value = f"acme:{name.upper()}"
        self.loaded = loaded

    def load(self) -> Any:
        if isinstance(self.loaded, Exception):
            raise self.loaded
        return self.loaded


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        (_Entry("acme", ImportError("no module named torch")), "cannot load runtime plugin"),
        (_Entry("acme", object()), "is a object, not a servekit RuntimePlugin"),
        (_Entry("acme", _plugin("other")), "names itself 'other'"),
    ],
)
def test_a_broken_plugin_is_named_with_its_package(entry: _Entry, match: str) -> None:
    with pytest.raises(LoadError, match=match) as caught:
        _load(entry)
    assert "acme-runtime 0.3" in caught.value.message


def test_plugin_settings_are_parsed_by_their_default_type() -> None:
    plugin = _plugin(
        "acme",
        settings_prefix="ACME_",
        settings=(
            PluginSetting("batch", 8, "Rows per call."),
            PluginSetting("fast", False, "Go fast."),
            PluginSetting("device", "cpu", "Where."),
        ),
    )
    assert plugin.options({}) == {"batch": 8, "fast": False, "device": "cpu"}
    got = plugin.options({"SERVEKIT_ACME_BATCH": "32", "SERVEKIT_ACME_FAST": "yes"})
    assert got == {"batch": 32, "fast": True, "device": "cpu"}
    with pytest.raises(ConfigError, match="SERVEKIT_ACME_BATCH must be an integer, got 'lots'"):
        plugin.options({"SERVEKIT_ACME_BATCH": "lots"})


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ({"name": "Acme"}, "lower-case"),
        ({"name": "acme", "settings_prefix": "acme_"}, "upper-case and end with _"),
        ({"name": "acme", "settings": (PluginSetting("x", 1, "d"),)}, "need a settings_prefix"),
    ],
)
def test_a_plugin_declaration_is_checked(claims: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RuntimePlugin(make=_Made, **claims)  # type: ignore[arg-type]


def test_make_runtime_hands_the_plugin_its_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = _plugin(
        "acme",
        suffixes=(".acme",),
        settings_prefix="ACME_",
        settings=(PluginSetting("batch", 8, "Rows per call."),),
    )
    registry = _registry(plugin)
    monkeypatch.setattr("servekit.runtimes.installed", lambda: registry)
    target = registry.parse("m.acme", str(tmp_path))
    made = make_runtime(target, tmp_path, environ={"SERVEKIT_ACME_BATCH": "4"})
    assert isinstance(made, _Made)
    assert made.target is target
    assert made.context.options == {"batch": 4}
    assert made.context.project_dir == tmp_path


def test_forms_are_listed_for_errors_and_servekit_runtimes() -> None:
    assert builtin.PYTHON.forms() == ["FILE.py:NAME", "package.module:NAME"]
    assert _plugin("m", markers=("MLmodel",), schemes=("models",)).forms() == [
        "a folder holding MLmodel",
        "models:/...",
    ]
    with pytest.raises(LoadError, match=r"FILE\.onnx \(onnx\)"):
        parse_target("model.xyz:1", "/tmp")


def test_servekit_runtimes_lists_what_each_serves_and_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from servekit.cli import main
    from servekit.runtimes.command import describe

    assert main(["runtimes", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["python"]["forms"] == ["FILE.py:NAME", "package.module:NAME"]
    assert [s["env"] for s in listed["onnx"]["settings"]] == [
        "SERVEKIT_ONNX_PROVIDERS",
        "SERVEKIT_ONNX_THREADS",
    ]
    needy = _plugin(
        "needy",
        requires=("json", "no_such_module_for_servekit"),
        install="pip install needy",
        settings_prefix="NEEDY_",
        settings=(PluginSetting("depth", 3, "How deep."),),
    )
    shown = describe(Installed(needy, "needy-pkg", "2.0"))
    assert shown["missing"] == ["no_such_module_for_servekit"]
    assert shown["available"] is False
    assert shown["settings"] == [{"env": "SERVEKIT_NEEDY_DEPTH", "default": 3, "doc": "How deep."}]
    assert main(["runtimes"]) == 0
    assert "serves:   FILE.onnx" in capsys.readouterr().out
