"""Loading user code: targets, classes, callables, and failures that name file and line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from servekit.errors import LoadError
from servekit.runtimes import Target, check_target, make_runtime, parse_target
from servekit.runtimes.python import PythonRuntime
from tests.conftest import write_project


def load(folder: Path, spec: str) -> PythonRuntime:
    target = parse_target(spec, str(folder))
    runtime = make_runtime(target, target.project_dir(str(folder)))
    assert isinstance(runtime, PythonRuntime)
    runtime.load()
    return runtime


def test_function_target(tmp_path: Path) -> None:
    write_project(tmp_path, {"fn_model.py": "def predict(a, b=2):\n    return a * b\n"})
    runtime = load(tmp_path, "fn_model.py:predict")
    assert runtime.predict((3,), {}) == 6
    assert [p.name for p in runtime.signature().params] == ["a", "b"]


def test_class_is_created_once_and_load_is_called_once(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "cls_model.py": """
        class Model:
            created = 0
            def __init__(self):
                Model.created += 1
                self.loaded = 0
            def load(self):
                self.loaded += 1
            def predict(self, x: int):
                return (Model.created, self.loaded, x)
    """
        },
    )
    runtime = load(tmp_path, "cls_model.py:Model")
    assert [runtime.predict((i,), {}) for i in range(3)] == [(1, 1, 0), (1, 1, 1), (1, 1, 2)]
    assert [p.name for p in runtime.signature().params] == ["x"]


def test_callable_object_and_dotted_name(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "obj_model.py": """
        class Scaler:
            def __call__(self, x):
                return x * 10
        class Holder:
            scaler = Scaler()
        scaler = Scaler()
    """
        },
    )
    assert load(tmp_path, "obj_model.py:scaler").predict((2,), {}) == 20
    assert load(tmp_path, "obj_model.py:Holder.scaler").predict((3,), {}) == 30


def test_module_target_and_sibling_imports(tmp_path: Path) -> None:
    write_project(
        tmp_path / "pkg_zz",
        {
            "__init__.py": "",
            "helpers.py": "K = 7\n",
            "serving.py": "from pkg_zz.helpers import K\ndef predict():\n    return K\n",
        },
    )
    try:
        assert load(tmp_path, "pkg_zz.serving:predict").predict((), {}) == 7
    finally:
        for name in [m for m in sys.modules if m.startswith("pkg_zz")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("source", "spec", "needles"),
    [
        (
            "import no_such_module_zz\n",
            "bad1.py:predict",
            ["bad1.py, line 1", "ModuleNotFoundError", "no_such_module_zz"],
        ),
        (
            "def helper():\n    raise KeyError('w')\nhelper()\n",
            "bad2.py:predict",
            ["bad2.py, line 2", "KeyError"],
        ),
        (
            "class M:\n    def __init__(self):\n        raise ValueError('cfg')\n",
            "bad3.py:M",
            ["bad3.py, line 3", "creating M()", "cfg"],
        ),
        ("import sys\nsys.exit(3)\n", "bad4.py:predict", ["bad4.py, line 2", "SystemExit"]),
        ("predict = 42\n", "bad5.py:predict", ["is a int, not a function or a class"]),
    ],
)
def test_load_failures_name_the_file_and_line(
    tmp_path: Path, source: str, spec: str, needles: list[str]
) -> None:
    write_project(tmp_path, {spec.split(":")[0]: source})
    with pytest.raises(LoadError) as caught:
        load(tmp_path, spec)
    for needle in needles:
        assert needle in caught.value.message
    if "line" in needles[0]:
        assert "servekit/runtimes" not in caught.value.traceback_text


def test_check_target_catches_syntax_errors_without_running_code(tmp_path: Path) -> None:
    write_project(tmp_path, {"m.py": "open('ran.txt', 'w')\ndef predict(:\n    pass\n"})
    target = parse_target("m.py:predict", str(tmp_path))
    with pytest.raises(LoadError, match=r"m\.py, line 2: SyntaxError"):
        check_target(target, tmp_path)
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("", "no TARGET"),
        ("model.py", "not of the form"),
        ("m.py:1x", "not a Python name"),
        ("a b:predict", "neither a .py file nor a module name"),
    ],
)
def test_bad_target_text(spec: str, match: str) -> None:
    with pytest.raises(LoadError, match=match):
        parse_target(spec)


def test_targets_pick_their_runtime_and_unknown_kinds_are_refused(tmp_path: Path) -> None:
    assert parse_target("model.R:predict", str(tmp_path)).runtime == "r"
    assert parse_target("model.onnx", str(tmp_path)).runtime == "onnx"
    assert parse_target("model.py:predict", str(tmp_path)).runtime == "python"
    unknown = Target("model.jl:predict", "julia", "predict", path=tmp_path / "model.jl")
    with pytest.raises(LoadError, match="no runtime named 'julia' is installed"):
        make_runtime(unknown, tmp_path)


def test_a_method_named_through_its_class_is_served_bound(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "method_model.py": """
        class Model:
            def load(self):
                self.scale = 3
            def predict(self, a: int):
                return a * self.scale
            def other(self, a: int):
                return -a
    """
        },
    )
    runtime = load(tmp_path, "method_model.py:Model.other")
    assert runtime.predict((2,), {}) == -2
    assert [p.name for p in runtime.signature().params] == ["a"]
    assert load(tmp_path, "method_model.py:Model.predict").predict((2,), {}) == 6
