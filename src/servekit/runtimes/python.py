"""The Python runtime: a user's function, class or callable object, loaded once."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from servekit.core.batching import BatchOptions, gather, options_of, row_signature, scatter
from servekit.core.binding import BoundCall
from servekit.core.signature import Param, Signature
from servekit.errors import LoadError
from servekit.runtimes.target import Target

__all__ = ["PythonRuntime"]

_SERVEKIT_DIR = str(Path(__file__).resolve().parent.parent)


class PythonRuntime:
    """Serves a Python callable named by a :class:`~servekit.runtimes.target.Target`."""

    kind = "python"

    def __init__(
        self,
        target: Target,
        project_dir: Path,
        init_kwargs: dict[str, Any] | None = None,
        batching: tuple[int, float] = (0, -1.0),
    ) -> None:
        self.target = target
        self.project_dir = project_dir
        self.init_kwargs = init_kwargs or {}
        """Keyword arguments for a class target's constructor (Seldon's parameters)."""
        self.instance: Any = None
        """The object whose ``predict`` is served (None for a plain function)."""
        self.batch_options: BatchOptions | None = None
        """How requests are batched, for a ``@servekit.batch`` callable (else None)."""
        self._batching = batching
        self._predict: Any = None
        self._params: tuple[Param, ...] = ()

    def load(self) -> None:
        """Import the module, resolve NAME; for a class, instantiate it and call ``load()``."""
        folder = str(self.project_dir)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module = self._import()
        parent, obj = self._resolve(module)
        if isinstance(obj, type):
            self.instance = self._instance(obj)
            predict = getattr(self.instance, "predict", None)
            if not callable(predict):  # a Seldon class may have predict_raw alone
                predict = getattr(self.instance, "predict_raw", None)
            if not callable(predict):
                raise LoadError(f"{self._where()}: class {obj.__name__} has no predict() method")
            self._predict = predict
        elif isinstance(parent, type) and _is_plain_function(obj):
            # file.py:Model.predict: a method named through its class: serve it bound to
            # one instance, created (and loaded) once.
            self.instance = self._instance(parent)
            self._predict = getattr(self.instance, obj.__name__)
        elif callable(obj):
            method = getattr(obj, "predict", None)
            served = callable(method) and not _is_plain_function(obj)
            self.instance = obj if served else None
            self._predict = method if served else obj
        else:
            raise LoadError(
                f"{self._where()}: {self.target.name} is a {type(obj).__name__}, "
                "not a function or a class"
            )
        marked = options_of(self._predict)
        if marked is not None:
            self.batch_options = marked.resolved(*self._batching)

    def _instance(self, cls: type) -> Any:
        """Create ``cls`` once and call its optional ``load()``."""
        instance = self._guarded(lambda: cls(**self.init_kwargs), f"creating {cls.__name__}()")
        loader = getattr(instance, "load", None)
        if callable(loader):
            self._guarded(loader, f"{cls.__name__}.load()")
        return instance

    @property
    def served(self) -> Any:
        """The callable that is served (a function, or a bound method)."""
        return self._predict

    def signature(self) -> Signature:
        """The served callable's signature (``self`` excluded); one row's for a batched
        one (``list[T]`` parameters as ``T``)."""
        whole = Signature.from_callable(self._predict)
        if self.batch_options is None:
            return whole
        try:
            row = row_signature(whole, self._where())
        except ValueError as exc:
            raise LoadError(str(exc)) from None
        self._params = row.params
        return row

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Call the user's function (a batched one with a batch of this one request)."""
        if self.batch_options is not None:
            return self.predict_batch([BoundCall(args, kwargs)])[0]
        return self._predict(*args, **kwargs)

    def predict_batch(self, calls: Sequence[BoundCall]) -> list[Any]:
        """Call a batched function once for ``calls``: one list per parameter in, one
        result per call out (BatchMismatch otherwise)."""
        if not self._params:
            self.signature()
        result = self._predict(**gather(calls, self._params))
        return scatter(result, len(calls), self.target.spec)

    def details(self) -> dict[str, Any]:
        """Runtime kind, target and the callable served."""
        name = getattr(self._predict, "__qualname__", None) or type(self._predict).__qualname__
        return {"runtime": self.kind, "target": self.target.spec, "callable": name}

    def close(self) -> None:
        """Nothing to release: the process exits with the user's objects."""

    def _where(self) -> str:
        return f"cannot load {self.target.spec!r}"

    def _import(self) -> ModuleType:
        path = self.target.path
        if path is None:
            assert self.target.module is not None
            module: ModuleType = self._guarded(
                importlib.import_module, f"importing {self.target.module}", self.target.module
            )
            return module
        if not path.is_file():
            raise LoadError(f"{self._where()}: file not found: {path}")
        name = path.stem if path.stem not in sys.modules else f"servekit_user_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise LoadError(f"{self._where()}: {path} cannot be imported as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            self._guarded(spec.loader.exec_module, f"importing {path.name}", module)
        except LoadError:
            del sys.modules[name]
            raise
        return module

    def _resolve(self, module: ModuleType) -> tuple[Any, Any]:
        """(the object holding NAME's last part, the object NAME names)."""
        parent: Any = None
        obj: Any = module
        for part in self.target.name.split("."):
            if not hasattr(obj, part):
                names = sorted(n for n in vars(module) if not n.startswith("_"))
                close = difflib.get_close_matches(part, names, n=1)
                raise LoadError(
                    f"{self._where()}: {module.__name__} has no {self.target.name!r}"
                    f" (it defines: {', '.join(names[:20]) or 'nothing public'})"
                    + (f"; did you mean {close[0]!r}?" if close else "")
                )
            parent, obj = obj, getattr(obj, part)
        return parent, obj

    def _guarded(self, fn: Any, doing: str, *args: Any) -> Any:
        """Run start-up code; any failure becomes a LoadError naming the file and line."""
        try:
            return fn(*args)
        except LoadError:
            raise
        except SyntaxError as exc:
            where = f"{exc.filename}, line {exc.lineno}"
            text = f": {exc.text.strip()}" if exc.text else ""
            raise _load_error(
                f"{self._where()}: {where}: {type(exc).__name__}: {exc.msg}{text}", exc
            ) from exc
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            frame = _user_frame(exc.__traceback__, self.project_dir)
            where = f"{frame[0]}, line {frame[1]}" if frame else doing
            detail = str(exc) or "(no message)"
            raise _load_error(
                f"{self._where()}: {where}: {type(exc).__name__} while {doing}: {detail}", exc
            ) from exc


def _is_plain_function(obj: Any) -> bool:
    return hasattr(obj, "__code__")


def _load_error(message: str, exc: BaseException) -> LoadError:
    """A LoadError carrying the traceback of the user's code only (servekit's frames cut)."""
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list(
        [f for f in summary.stack if not _is_harness_frame(f.filename)]
    )
    return LoadError(message, "".join(summary.format()))


def _is_harness_frame(filename: str) -> bool:
    return filename.startswith((_SERVEKIT_DIR, "<frozen importlib"))


def _user_frame(tb: TracebackType | None, project_dir: Path) -> tuple[str, int] | None:
    """The deepest frame in the user's project (else the deepest outside servekit)."""
    frames = traceback.extract_tb(tb)
    project = str(project_dir)
    for frame in reversed(frames):
        if frame.filename.startswith(project) and frame.lineno is not None:
            return frame.filename, frame.lineno
    for frame in reversed(frames):
        if not _is_harness_frame(frame.filename):
            return frame.filename, frame.lineno or 0
    return None
