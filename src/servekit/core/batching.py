"""Batched models: the ``@servekit.batch`` mark, one row's signature, and the rules that
turn many requests' bound arguments into one call and its result back into each
request's own. I/O-free (the queue that makes requests meet is
:mod:`servekit.batching`).

A batched Python function takes, for each parameter, a list with one element per
request and returns a list of the same length, in the same order::

    @servekit.batch(max_size=32, max_wait_ms=5)
    def predict(text: list[str], scale: list[float]) -> list[float]: ...

Each request is validated on its own against one row's signature (``text: str,
scale: float``), so its 422 is its own; a parameter's default is each row's default.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from servekit.core.binding import BoundCall
from servekit.core.signature import EMPTY, Param, ParamKind, Signature
from servekit.errors import BatchMismatch

__all__ = [
    "BatchOptions",
    "batch",
    "gather",
    "options_of",
    "row_signature",
    "row_type",
    "scatter",
]

_MARK = "__servekit_batch__"
DEFAULT_MAX_SIZE = 32
DEFAULT_MAX_WAIT_MS = 5.0


@dataclass(frozen=True)
class BatchOptions:
    """How a batch forms: at most ``max_size`` requests, the first waiting at most
    ``max_wait_ms`` for others on their way (:mod:`servekit.batching.batcher`).
    ``None``: the settings' (``SERVEKIT_BATCH_*``)."""

    max_size: int | None = None
    max_wait_ms: float | None = None

    def resolved(self, max_size: int, max_wait_ms: float) -> BatchOptions:
        """These options with the settings' values (0 or less: the defaults, 32 and 5 ms)
        where the code gave none."""
        return BatchOptions(
            self.max_size if self.max_size is not None else max_size or DEFAULT_MAX_SIZE,
            self.max_wait_ms
            if self.max_wait_ms is not None
            else (max_wait_ms if max_wait_ms >= 0 else DEFAULT_MAX_WAIT_MS),
        )


def batch(
    fn: Callable[..., Any] | None = None,
    *,
    max_size: int | None = None,
    max_wait_ms: float | None = None,
) -> Any:
    """Mark a function or method as batched: ``@servekit.batch`` or
    ``@servekit.batch(max_size=32, max_wait_ms=5)`` (these win over the settings
    ``SERVEKIT_BATCH_MAX_SIZE`` and ``SERVEKIT_BATCH_MAX_WAIT_MS``). The function is
    returned unchanged, marked."""
    if max_size is not None and (type(max_size) is not int or max_size < 1):
        raise ValueError(f"servekit.batch: max_size must be an integer >= 1, got {max_size!r}")
    if max_wait_ms is not None and not (isinstance(max_wait_ms, (int, float)) and max_wait_ms >= 0):
        raise ValueError(f"servekit.batch: max_wait_ms must be >= 0, got {max_wait_ms!r}")

    def mark(target: Callable[..., Any]) -> Callable[..., Any]:
        setattr(target, _MARK, BatchOptions(max_size, max_wait_ms))
        return target

    return mark(fn) if fn is not None else mark


def options_of(fn: Any) -> BatchOptions | None:
    """The options ``fn`` was marked with (a bound method's function's), else None."""
    found = getattr(fn, _MARK, None)
    return found if isinstance(found, BatchOptions) else None


def row_signature(signature: Signature, where: str) -> Signature:
    """One request's signature for a batched function's: ``list[T]`` -> ``T`` for each
    parameter (no annotation stays none); ``*args``/``**kwargs`` are refused (a
    ValueError naming ``where``) since rows could not line up."""
    params = []
    warnings = list(signature.warnings)
    for param in signature.params:
        if param.kind not in (ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY):
            raise ValueError(
                f"{where}: a batched function takes named parameters only (not *args, "
                f"**kwargs or positional-only ones like {param.name})"
            )
        annotation = param.annotation
        if annotation is not EMPTY:
            origin = typing.get_origin(annotation)
            arguments = typing.get_args(annotation)
            if origin in (list, Sequence, typing.Sequence) and len(arguments) == 1:
                annotation = arguments[0]
            else:
                warnings.append(
                    f"{where}: parameter {param.name} of a batched function is annotated "
                    f"{annotation!r}, not list[...]: each row's value is passed as JSON"
                )
                annotation = EMPTY
        params.append(Param(param.name, param.kind, annotation, param.default))
    return replace(signature, params=tuple(params), warnings=tuple(warnings))


def row_type(annotation: Any) -> Any:
    """One row's type of a batched function's ``list[T]`` (or ``Sequence[T]``) return
    annotation: ``T``; None when it says nothing per row."""
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, Sequence, typing.Sequence) and len(arguments) == 1:
        return arguments[0]
    return None


def gather(bounds: Sequence[BoundCall], params: Sequence[Param]) -> dict[str, list[Any]]:
    """One list per parameter of one row's signature (``params``, in order), one element
    per request, in order: each request's value by position or by name, else the
    parameter's default (the binder leaves defaults to the call)."""
    names = [p.name for p in params]
    rows = []
    for bound in bounds:
        row = dict(zip(names, bound.args, strict=False))
        row.update(bound.kwargs)
        rows.append(row)
    return {p.name: [row.get(p.name, p.default) for row in rows] for p in params}


def scatter(result: Any, count: int, model: str) -> list[Any]:
    """The batch's result as one element per request; BatchMismatch naming ``model``
    when it is not a sequence of ``count`` elements (never a misrouted answer)."""
    if isinstance(result, (str, bytes, dict)) or not hasattr(result, "__len__"):
        raise BatchMismatch(
            f"the batched model {model} returned a {type(result).__name__}, not a list with "
            f"one result per request ({count})"
        )
    if len(result) != count:
        raise BatchMismatch(
            f"the batched model {model} returned {len(result)} results for {count} "
            "requests: it must return one per request, in order"
        )
    return list(result)
