"""Bind a request's ``data`` / ``parameters`` to a model's arguments. I/O-free.

A :class:`Binder` is built once, at load, from a :class:`~servekit.core.signature.Signature`;
each request only runs it. It maps, as Domino's harness does:

- ``{"data": {...}}`` -> keyword arguments (paths ``data.x``),
- ``{"parameters": [...]}`` -> positional arguments (paths ``parameters[2]``),
- ``{"parameters": {...}}`` -> keyword arguments (paths ``parameters.x``),
- ``{"data": [{...}, ...]}`` (a list of rows, for a tabular model only: a signature
  with ``rows``, see :meth:`Binder.bind`) -> one keyword argument per column, a list
  with one value per row (paths ``data[3].age``),

converts each value by its parameter's annotation, fills defaults, sends extra keys to
``**kwargs`` and extra positions to ``*args`` where the signature has them, and raises
:class:`~servekit.errors.InvalidArguments` listing every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servekit.core.compiled import Compiled
from servekit.core.paths import Where, describe, report
from servekit.core.signature import Param, ParamKind, Signature
from servekit.core.types import TypeCompiler
from servekit.errors import BadRequest, InvalidArguments, Problem

__all__ = ["Binder", "BoundCall", "Call", "data_not_an_object"]

_POSITIONAL = (ParamKind.POSITIONAL_ONLY, ParamKind.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class Call:
    """A decoded request: which form it used and its values.

    ``root`` is ``"data"`` or ``"parameters"``; ``values`` a dict (keyword form) or a
    list (positional form; under ``"data"``, a list of rows).
    """

    root: str
    values: dict[str, Any] | list[Any]


@dataclass(frozen=True)
class BoundCall:
    """Arguments ready for the runtime: ``fn(*args, **kwargs)``."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _Slot:
    param: Param
    compiled: Compiled


def data_not_an_object(values: Any) -> BadRequest:
    """The 400 for a ``data`` that is not an object (nor, for a tabular model, rows)."""
    return BadRequest(f'"data" must be a JSON object of named arguments, got {describe(values)}')


class Binder:
    """Binds calls to one signature. Build once at load; call :meth:`bind` per request.

    A signature with ``rows`` (one row's columns, as a tabular runtime such as MLflow's
    describes its model) also binds Domino's list of rows, each row with a binder of
    its own.
    """

    def __init__(self, signature: Signature) -> None:
        self._rows = Binder(signature.rows) if signature.rows is not None else None
        compiler = TypeCompiler()
        slots = [_Slot(p, compiler.compile(p.annotation)) for p in signature.params]
        self.signature = signature
        self.warnings: tuple[str, ...] = signature.warnings + tuple(compiler.warnings)
        self._positional = [s for s in slots if s.param.kind in _POSITIONAL]
        self._positional_only = [s for s in slots if s.param.kind is ParamKind.POSITIONAL_ONLY]
        self._positional_only_names = frozenset(s.param.name for s in self._positional_only)
        self._by_name = {
            s.param.name: s
            for s in slots
            if s.param.kind in (ParamKind.POSITIONAL_OR_KEYWORD, ParamKind.KEYWORD_ONLY)
        }
        self._keyword_only = [s for s in slots if s.param.kind is ParamKind.KEYWORD_ONLY]
        self._var_args = next((s for s in slots if s.param.kind is ParamKind.VAR_POSITIONAL), None)
        self._var_kwargs = next((s for s in slots if s.param.kind is ParamKind.VAR_KEYWORD), None)
        self._names = (
            ", ".join(
                s.param.name
                for s in slots
                if s.param.kind not in (ParamKind.VAR_POSITIONAL, ParamKind.VAR_KEYWORD)
            )
            or "none"
        )

    def bind(self, call: Call) -> BoundCall:
        """Convert ``call`` to arguments, or raise InvalidArguments with every problem."""
        problems: list[Problem] = []
        if isinstance(call.values, list):
            if call.root == "data":
                bound = self._bind_rows(call.values, problems)
            else:
                bound = self._bind_positional(call.values, call.root, problems)
        else:
            bound = self._bind_keywords(call.values, call.root, problems)
        if problems:
            raise InvalidArguments(problems)
        return bound

    def _bind_keywords(
        self, values: dict[str, Any], root: Where, problems: list[Problem]
    ) -> BoundCall:
        args: list[Any] = []
        for slot in self._positional_only:  # named in JSON, passed by position
            name = slot.param.name
            if name in values:
                args.append(slot.compiled.convert(values[name], root, name, problems))
            elif slot.param.required:
                report(problems, root, name, slot.compiled.expected, "nothing (required)")
            else:
                args.append(slot.param.default)
        kwargs: dict[str, Any] = {}
        by_name = self._by_name
        for name, value in values.items():
            found = by_name.get(name)
            if found is not None:
                kwargs[name] = found.compiled.convert(value, root, name, problems)
            elif name in self._positional_only_names:
                continue  # bound by position above
            elif self._var_kwargs is not None:
                kwargs[name] = self._var_kwargs.compiled.convert(value, root, name, problems)
            else:
                report(
                    problems,
                    root,
                    name,
                    f"an argument of the model ({self._names})",
                    f"an unknown argument ({describe(value)})",
                )
        for slot in by_name.values():
            if slot.param.required and slot.param.name not in values:
                report(
                    problems, root, slot.param.name, slot.compiled.expected, "nothing (required)"
                )
        return BoundCall(tuple(args), kwargs)

    def _bind_positional(self, values: list[Any], root: str, problems: list[Problem]) -> BoundCall:
        positional = self._positional
        args: list[Any] = []
        for index, value in enumerate(values):
            slot: _Slot | None
            if index < len(positional):
                slot = positional[index]
            elif self._var_args is not None:
                slot = self._var_args
            else:
                report(
                    problems,
                    root,
                    index,
                    f"at most {len(positional)} positional argument"
                    f"{'s' if len(positional) != 1 else ''} ({self._names})",
                    f"an extra argument ({describe(value)})",
                )
                continue
            args.append(slot.compiled.convert(value, root, index, problems))
        for index in range(len(values), len(positional)):
            slot = positional[index]
            if slot.param.required:
                report(
                    problems,
                    root,
                    index,
                    f"{slot.param.name}: {slot.compiled.expected}",
                    "nothing (required)",
                )
        for slot in self._keyword_only:
            if slot.param.required:
                report(
                    problems,
                    root,
                    None,
                    f"keyword-only argument {slot.param.name!r}: send "
                    f'{{"{root}": {{...}}}} or {{"data": {{...}}}} with it',
                    "positional arguments",
                )
        return BoundCall(tuple(args), {})

    def _bind_rows(self, rows: list[Any], problems: list[Problem]) -> BoundCall:
        """``{"data": [row, ...]}``: each row bound by the rows binder, then one list per
        column (None where a row leaves an optional column out), in first-seen order.
        BadRequest when the signature is not tabular."""
        binder = self._rows
        if binder is None:
            raise data_not_an_object(rows)
        if not rows:
            report(problems, "data", None, "at least one row (an object)", "an empty array")
        bound: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            if type(row) is dict:
                bound.append(binder._bind_keywords(row, ("data", index), problems).kwargs)
            else:
                report(problems, "data", index, "an object (one row)", describe(row))
        names = dict.fromkeys(name for kwargs in bound for name in kwargs)
        return BoundCall((), {name: [kwargs.get(name) for kwargs in bound] for name in names})
