"""A runtime-neutral description of what a model accepts. I/O-free.

A runtime (Python callable, ONNX session, R function) describes its parameters once, at
load, as a :class:`Signature`; the binder and (later) the OpenAPI generator read only this.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EMPTY", "Param", "ParamKind", "Signature"]

ParamKind = inspect._ParameterKind
"""The five kinds of parameter, as :mod:`inspect` names them."""

EMPTY: Any = inspect.Parameter.empty
"""Marks a parameter without annotation or without default."""


@dataclass(frozen=True)
class Param:
    """One parameter: its name, kind, type annotation (or ``EMPTY``) and default."""

    name: str
    kind: ParamKind = ParamKind.POSITIONAL_OR_KEYWORD
    annotation: Any = EMPTY
    default: Any = EMPTY

    @property
    def required(self) -> bool:
        """True when a request must supply this parameter."""
        variadic = self.kind in (ParamKind.VAR_POSITIONAL, ParamKind.VAR_KEYWORD)
        return self.default is EMPTY and not variadic


@dataclass(frozen=True)
class Signature:
    """The parameters of a model, in order, plus notes for the start-up log."""

    params: tuple[Param, ...]
    warnings: tuple[str, ...] = field(default=())
    rows: Signature | None = None
    """For a model that takes a table (an MLflow one): one row's columns, one value
    each. Domino's list of rows (``{"data": [{...}, ...]}``) is then bound row by row
    into one list per column; None refuses that form."""

    @classmethod
    def from_callable(cls, fn: Callable[..., Any]) -> Signature:
        """Read a Python callable's signature and resolve its type hints, once.

        Hints that cannot be resolved (a forward reference to a missing name) are
        dropped with a warning rather than failing: the value is then passed as JSON.
        """
        sig = inspect.signature(fn)
        warnings: list[str] = []
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:  # a bad forward reference must not stop serving
            hints = {}
            warnings.append(
                f"type hints of {_name(fn)} could not be resolved ({exc}); "
                "arguments are passed as decoded JSON"
            )
        params = tuple(
            Param(
                name=p.name,
                kind=p.kind,
                annotation=hints.get(p.name, EMPTY),
                default=p.default,
            )
            for p in sig.parameters.values()
        )
        return cls(params=params, warnings=tuple(warnings))


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
