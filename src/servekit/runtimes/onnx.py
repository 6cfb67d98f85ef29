"""The ONNX runtime: ``servekit serve model.onnx`` serves an ONNX graph with onnxruntime.

Needs ``pip install 'servekit[onnx]'`` (onnxruntime-gpu, which also runs on CPU) or
``'servekit[onnx-cpu]'`` (onnxruntime). The session is made once per worker, after fork.

- **Providers:** CUDA when onnxruntime offers it and a GPU is visible and allowed
  (``CUDA_VISIBLE_DEVICES`` not empty or ``-1``), else CPU; ``SERVEKIT_ONNX_PROVIDERS``
  (comma-separated) overrides. The providers the session really uses are logged and
  shown in ``/readyz``.
- **Threads:** intra-op threads default to the usable cores divided by the worker
  processes (at least 1), so processes x threads does not oversubscribe the machine;
  ``SERVEKIT_ONNX_THREADS`` overrides.
- **Signature:** one parameter per graph input, a :class:`~servekit.core.tensors.TensorSpec`
  of its element type and shape (dynamic dimensions included): ``{"data": {"input":
  [[...]]}}`` is checked and converted before the session sees it.
- **Result:** ``{output name: value}``; tensors encode as nested lists, and
  sequence-of-map outputs (scikit-learn classifiers' probabilities) as lists of objects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from servekit.core.batching import BatchOptions
from servekit.core.binding import BoundCall
from servekit.core.signature import Param, ParamKind, Signature
from servekit.core.tensors import TensorSpec
from servekit.errors import InvalidArguments, LoadError, Problem
from servekit.runtimes.onnx_batch import batchable, run_batch
from servekit.runtimes.target import Target
from servekit.settings import Settings, usable_cores

__all__ = ["OnnxRuntime", "choose_providers", "session"]

log = logging.getLogger("servekit.onnx")

_ELEMENT_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}
_INSTALL = "install it with `pip install 'servekit[onnx]'` (or 'servekit[onnx-cpu]')"


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise LoadError(f"ONNX models need onnxruntime: {_INSTALL}") from None
    return onnxruntime


def _gpu_allowed() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return False
    return any(Path("/dev").glob("nvidia[0-9]*"))


def choose_providers(available: list[str], configured: str, gpu: bool) -> list[str]:
    """The execution providers to ask for, best first."""
    if configured.strip():
        wanted = [p.strip() for p in configured.split(",") if p.strip()]
        missing = [p for p in wanted if p not in available]
        if missing:
            raise LoadError(
                f"SERVEKIT_ONNX_PROVIDERS names {', '.join(missing)}, which this "
                f"onnxruntime does not offer (it has: {', '.join(available)})"
            )
        return wanted
    if gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass(frozen=True)
class OnnxOptions:
    """The ONNX runtime's own settings (``SERVEKIT_ONNX_*``, and the worker count that
    shares the cores)."""

    threads: int = 0
    """Intra-op threads per worker; 0 divides the usable cores among the workers."""
    providers: str = ""
    """Comma-separated execution providers, best first; empty chooses CUDA or CPU."""
    processes: int = 1
    """Worker processes on this machine."""
    batch: tuple[int, float] = (0, -1.0)
    """``SERVEKIT_BATCH_MAX_SIZE`` and ``SERVEKIT_BATCH_MAX_WAIT_MS``."""

    @classmethod
    def of(cls, settings: Settings) -> OnnxOptions:
        """The ONNX part of ``settings``."""
        batch = (settings.batch_max_size, settings.batch_max_wait_ms)
        return cls(settings.onnx_threads, settings.onnx_providers, settings.worker_processes, batch)


def session(path: str | os.PathLike[str], options: OnnxOptions | Settings | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` with servekit's provider and thread choices.

    For Python models that pre- or post-process around an ONNX graph: call it once, in
    ``load()``. Without ``options`` they are the server's (its ``SERVEKIT_*``
    environment, which servekit hands to every worker).
    """
    ort = _onnxruntime()
    if not isinstance(options, OnnxOptions):
        options = OnnxOptions.of(options or Settings.from_env(os.environ))
    chosen = ort.SessionOptions()
    chosen.intra_op_num_threads = options.threads or max(1, usable_cores() // options.processes)
    chosen.inter_op_num_threads = 1
    providers = choose_providers(ort.get_available_providers(), options.providers, _gpu_allowed())
    try:
        return ort.InferenceSession(str(path), chosen, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise LoadError(f"cannot load ONNX model {path}: {exc}") from exc


def _spec(item: Any) -> TensorSpec | None:
    """The spec of a graph input or output (onnxruntime's NodeArg), None for a type that
    is not a tensor servekit knows."""
    dtype = _ELEMENT_TYPES.get(item.type)
    if dtype is None:
        return None
    shape = (
        None
        if item.shape is None
        else tuple(d if isinstance(d, (int, str)) else None for d in item.shape)
    )
    return TensorSpec(np.dtype(dtype), shape)


class OnnxRuntime:
    """Serves an ONNX graph named by a ``.onnx`` TARGET."""

    kind = "onnx"

    def __init__(self, target: Target, options: OnnxOptions) -> None:
        self.target = target
        self.options = options
        self.batch_options: BatchOptions | None = None
        """How requests are batched (``SERVEKIT_BATCH_MAX_SIZE`` above 1), else None."""
        self._session: Any = None

    def load(self) -> None:
        """Make the inference session (once per worker process)."""
        assert self.target.path is not None
        if not self.target.path.is_file():
            raise LoadError(f"cannot load {self.target.spec!r}: file not found: {self.target.path}")
        self._session = session(self.target.path, self.options)
        self._inputs = self._session.get_inputs()
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.batch_options = self._batching(self._session.get_outputs())
        log.info(
            "onnx session ready",
            extra={
                "providers": self._session.get_providers(),
                "inputs": [i.name for i in self._inputs],
            },
        )

    def _batching(self, outputs: list[Any]) -> BatchOptions | None:
        """Batch options when SERVEKIT_BATCH_MAX_SIZE asks for batching and the graph
        can take stacked rows (else None, saying why)."""
        size, wait = self.options.batch
        if size <= 1:
            return None
        why = batchable(self._inputs, outputs)
        if why:
            log.warning("SERVEKIT_BATCH_MAX_SIZE is set, but this graph is not batched: %s", why)
            return None
        return BatchOptions().resolved(size, wait)

    def signature(self) -> Signature:
        """One parameter per graph input, typed by its element type and shape."""
        params = []
        for item in self._inputs:
            spec = _spec(item)
            if spec is None:
                raise LoadError(
                    f"{self.target.spec}: input {item.name!r} has type {item.type}, "
                    "which servekit cannot feed from JSON"
                )
            params.append(Param(item.name, ParamKind.POSITIONAL_OR_KEYWORD, spec))
        return Signature(tuple(params))

    def outputs(self) -> list[tuple[str, TensorSpec | None]]:
        """The graph's outputs in order: each name with its tensor's spec (None for an
        output that is not a tensor, such as a sequence of maps)."""
        return [(o.name, _spec(o)) for o in self._session.get_outputs()]

    def predict(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the graph; ``{output name: value}``."""
        feeds = self._feeds(args, kwargs)
        _check_named_dimensions(self._inputs, feeds)
        values = self._session.run(None, feeds)
        return dict(zip(self._outputs, values, strict=True))

    def predict_batch(self, calls: Sequence[BoundCall]) -> list[Any]:
        """Run the graph once for many requests, their rows stacked
        (:mod:`.onnx_batch`); one ``{output name: value}`` per request."""
        if len(calls) == 1:
            return [self.predict(calls[0].args, calls[0].kwargs)]
        feeds = [self._feeds(call.args, call.kwargs) for call in calls]
        names = [i.name for i in self._inputs]
        return run_batch(lambda f: self._session.run(None, f), names, self._outputs, feeds)

    def _feeds(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        feeds = dict(zip((i.name for i in self._inputs), args, strict=False))
        feeds.update(kwargs)
        for item in self._inputs:  # onnxruntime takes strings as object arrays
            value = feeds.get(item.name)
            if item.type == "tensor(string)" and isinstance(value, np.ndarray):
                feeds[item.name] = value.astype(object)
        return feeds

    def details(self) -> dict[str, Any]:
        """Providers in use, inputs and outputs."""
        return {
            "runtime": self.kind,
            "target": self.target.spec,
            "providers": self._session.get_providers() if self._session else [],
            "inputs": {i.name: f"{i.type}{list(i.shape or [])}" for i in self._inputs},
            "outputs": self._outputs,
        }

    def close(self) -> None:
        """Drop the session."""
        self._session = None


def _check_named_dimensions(inputs: list[Any], feeds: dict[str, Any]) -> None:
    """InvalidArguments when inputs disagree on a dimension they share by name (two
    inputs of ``float32[batch, 3]`` with 2 and 3 rows), which the graph would refuse."""
    seen: dict[str, tuple[str, int]] = {}
    problems: list[Problem] = []
    for item in inputs:
        value = feeds.get(item.name)
        shape = getattr(value, "shape", None)
        if shape is None or not item.shape or len(item.shape) != len(shape):
            continue
        for axis, (dim, size) in enumerate(zip(item.shape, shape, strict=True)):
            if not isinstance(dim, str):
                continue
            first = seen.setdefault(dim, (item.name, int(size)))
            if first[1] != size:
                problems.append(
                    Problem(
                        item.name,
                        f"dimension {dim} (axis {axis}) of {first[1]}, as in {first[0]}",
                        f"{size}",
                    )
                )
    if problems:
        raise InvalidArguments(problems)
