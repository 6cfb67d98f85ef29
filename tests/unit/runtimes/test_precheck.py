"""The checks ``servekit serve`` makes of a Python TARGET before uWSGI starts: they read
the source, never run it, and stay silent where reading cannot be sure."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from servekit.errors import LoadError
from servekit.runtimes import check_target, parse_target
from servekit.runtimes.precheck import defined_names, leading_imports

RAN = "\nopen(__file__ + '.ran', 'w').close()\n"
"""A last line that leaves a file behind if the module is ever run."""


def check(tmp_path: Path, source: str, spec: str = "model.py:predict") -> None:
    (tmp_path / spec.split(":")[0]).write_text(textwrap.dedent(source) + RAN)
    try:
        check_target(parse_target(spec, str(tmp_path)), tmp_path)
    finally:
        assert not list(tmp_path.glob("*.ran")), "the check ran the user's code"


def test_a_misspelt_name_is_refused_with_what_the_file_defines(tmp_path: Path) -> None:
    source = "class PriceModel:\n    def predict(self):\n        return 1\n_private = 2\n"
    with pytest.raises(LoadError) as caught:
        check(tmp_path, source, "model.py:PriceModle")
    assert caught.value.message.endswith(
        "model has no 'PriceModle' (it defines: PriceModel); did you mean 'PriceModel'?"
    )
    with pytest.raises(LoadError, match=r"has no 'predict' \(it defines: PriceModel\)$"):
        check(tmp_path, source)
    check(tmp_path, source, "model.py:PriceModel.predict")


@pytest.mark.parametrize(
    "source",
    [
        "def predict(): pass",
        "async def predict(): pass",
        "predict = lambda: 1",
        "predict: object = print",
        "a, (b, predict) = 1, (2, 3)",
        "from os import path as predict",
        "import predict",
        "if True:\n    def predict(): pass",
        "try:\n    from fast import predict\nexcept ImportError:\n    predict = print",
        "try:\n    pass\nexcept Exception as predict:\n    pass",
        "for predict in range(2):\n    pass",
        "with open(__file__) as predict:\n    pass",
        "(predict := 3)",
        "match 1:\n    case predict:\n        pass",
    ],
)
def test_every_way_of_binding_the_name_is_seen(tmp_path: Path, source: str) -> None:
    if "import predict" in source or "from fast" in source:
        (tmp_path / "predict.py").write_text("")
        (tmp_path / "fast.py").write_text("")
    check(tmp_path, source)


@pytest.mark.parametrize(
    "source",
    [
        "from os.path import *",
        "def __getattr__(name):\n    return print",
        "globals()['predict'] = print",
        "def register():\n    globals()['predict'] = print\nregister()",
        "import sys\nsetattr(sys.modules[__name__], 'predict', print)",
        "exec('def predict(): pass')",
        "vars()['predict'] = print",
    ],
)
def test_names_bound_at_run_time_are_left_to_the_load(tmp_path: Path, source: str) -> None:
    tree = ast.parse(textwrap.dedent(source))
    assert defined_names(tree) is None
    check(tmp_path, source)  # no refusal: the real load decides


def test_a_method_that_calls_setattr_does_not_blind_the_check(tmp_path: Path) -> None:
    source = "class M:\n    def load(self):\n        setattr(self, 'w', 1)\n"
    with pytest.raises(LoadError, match="has no 'predict'"):
        check(tmp_path, source)


def test_a_missing_package_in_the_leading_imports_is_refused(tmp_path: Path) -> None:
    source = '"""Doc."""\nfrom __future__ import annotations\nimport json\nimport no_such_zz.sub\n'
    with pytest.raises(LoadError) as caught:
        check(tmp_path, source + "def predict(): pass\n")
    assert "model.py, line 4: ModuleNotFoundError: No module named 'no_such_zz'" in (
        caught.value.message
    )
    assert str(tmp_path) in caught.value.message  # where it could be put


def test_local_modules_and_relative_imports_are_found(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    check(tmp_path, "import helpers\nimport pkg.deep\nfrom . import x\ndef predict(): pass\n")


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.path.insert(0, '/opt/x')\nimport no_such_zz\ndef predict(): pass",
        "try:\n    import no_such_zz\nexcept ImportError:\n    pass\ndef predict(): pass",
        "def predict():\n    import no_such_zz",
    ],
)
def test_imports_after_code_or_guarded_are_left_to_the_load(tmp_path: Path, source: str) -> None:
    check(tmp_path, source)


def test_leading_imports_stop_at_the_first_statement_that_runs() -> None:
    tree = ast.parse('"""d"""\nimport a.b, c\nfrom d.e import f\nx = 1\nimport g\n')
    assert list(leading_imports(tree)) == [(2, "a"), (2, "c"), (3, "d")]


def test_a_module_target_is_read_without_importing_its_package(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text(RAN)
    (package / "pricing.py").write_text("class PriceModel:\n    pass\n")
    target = parse_target("shop.pricing:PriceModle", str(tmp_path))
    with pytest.raises(LoadError, match=r"pricing has no 'PriceModle'.*did you mean 'PriceModel'"):
        check_target(target, tmp_path)
    assert not list(package.glob("*.ran"))
    check_target(parse_target("shop.pricing:PriceModel", str(tmp_path)), tmp_path)
