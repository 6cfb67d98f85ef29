"""servekit's one typed settings object.

Every field is read from a ``SERVEKIT_``-prefixed environment variable (``port`` from
``SERVEKIT_PORT``) and from a CLI flag (``--port``); flags win over the environment,
which wins over the defaults. Settings are parsed in ``main()`` or a worker's entry
point, never at import time. ``servekit serve`` hands them to its uWSGI workers as
environment variables (:meth:`Settings.to_env`).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servekit._checks import check
from servekit._env import ENV_PREFIX, OLD_NAMES, env_name, parse_value, usable_cores

__all__ = ["ENV_PREFIX", "OLD_NAMES", "Settings", "env_name", "parse_value", "usable_cores"]


def _setting(default: Any, doc: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"doc": doc, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Everything that configures a servekit server. Each field documents itself."""

    target: str = _setting(
        "",
        "What to serve: `path/to/file.py:NAME` or `package.module:NAME` (a function, a "
        "class with `predict`, or a callable object), `model.onnx`, `file.R:NAME`, or "
        "what an installed runtime plugin claims (`servekit runtimes` lists them).",
    )
    runtime: str = _setting(
        "",
        "The runtime to serve the target with (a name `servekit runtimes` lists). Empty: "
        "the one runtime that claims the target; needed only when two plugins claim it.",
    )
    project_dir: str = _setting(
        "",
        "The model's project folder: the working directory, and first on `sys.path`. "
        "Default: the target file's folder, or the current directory for a module target.",
    )
    host: str = _setting("127.0.0.1", "Address to listen on; `0.0.0.0` in containers.")
    port: int = _setting(8080, "TCP port to listen on.")
    front: str = _setting(
        "auto",
        "What faces clients: `nginx` (a private nginx reads every request whole, headers "
        "and body, before a worker sees it, keeps connections alive and closes slow "
        "clients), `direct` (each uWSGI worker reads the socket itself, one request per "
        "connection with `Connection: close`; only behind a proxy that buffers requests), "
        "or `auto`: nginx when it is installed, else direct with a warning.",
    )
    client_header_timeout: int = _setting(
        10,
        "nginx front: seconds a client has to send a request's whole headers; then the "
        "connection is closed.",
    )
    client_body_timeout: int = _setting(
        10,
        "nginx front: seconds a client may pause between two parts of a request body; then "
        "the connection is closed (nginx sends no answer).",
    )
    keepalive_timeout: int = _setting(
        75,
        "nginx front: seconds an idle persistent connection is kept open. Keep it longer "
        "than the idle timeout of the proxy or load balancer in front (60 s for most).",
    )
    max_connections: int = _setting(
        1024,
        "nginx front: client connections held open at once (idle, slow and busy ones "
        "together); more wait in the listen queue.",
    )
    processes: int = _setting(0, "uWSGI worker processes; 0 means one per usable CPU core.")
    threads: int = _setting(1, "Threads per worker process.")
    preload: bool = _setting(
        False,
        "Load the model once in the uWSGI master and fork workers from it "
        "(copy-on-write memory) instead of loading it in every worker after fork.",
    )
    timeout: int = _setting(
        60, "Seconds a request may run before its worker is killed and replaced (uWSGI harakiri)."
    )
    max_requests: int = _setting(0, "Recycle a worker after this many requests (0: never).")
    max_requests_jitter: int = _setting(
        16,
        "Worker N recycles after `max_requests + (N-1) * jitter` requests, so workers "
        "do not all restart at once.",
    )
    max_body_bytes: int = _setting(
        10 * 1024 * 1024, "Largest request body accepted; larger ones get 413 PAYLOAD_TOO_LARGE."
    )
    model_name: str = _setting(
        "",
        "Model name reported in `release`. Default: the project folder's name (or the module's).",
    )
    model_version: str = _setting("1", "Model version reported in `release`.")
    model_id: str = _setting(
        "",
        "The model id this server answers to in `/models/<id>/<version>/model` (besides "
        "its model name); empty accepts any id, as Domino's ids are opaque. The version "
        "there must be `latest` or `SERVEKIT_MODEL_VERSION`.",
    )
    log_format: str = _setting("json", "Log lines as `json` (one object a line) or `text`.")
    log_level: str = _setting(
        "info", "Least severe log level written: debug, info, warning or error."
    )
    access_tokens: str = _setting(
        "",
        "Comma-separated access tokens; callers send one as `Authorization: Bearer` or "
        "HTTP Basic. Several may be valid at once, for rotation.",
        secret=True,
    )
    access_tokens_file: str = _setting(
        "",
        "A file of access tokens, one per line, re-read when it changes (a mounted "
        "Kubernetes Secret).",
    )
    require_auth: bool = _setting(False, "Refuse to start when no access tokens are configured.")
    drain_seconds: int = _setting(
        5,
        "After SIGTERM: seconds during which `/readyz` answers 503 while predictions are "
        "still served, so load balancers stop sending; then the server stops accepting.",
    )
    grace_seconds: int = _setting(
        20,
        "After the drain: seconds in-flight requests get to finish before their workers "
        "are killed (0: wait for them). Keep drain + grace under Kubernetes' "
        "terminationGracePeriodSeconds.",
    )
    metrics_port: int = _setting(
        0,
        "Serve `/metrics` on this port only (and nothing else there); 0 serves it on "
        "the main port.",
    )
    grpc_port: int = _setting(
        0,
        "Also serve the Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, "
        "as KServe and Triton clients call it) on this port; 0: off. Needs `servekit[grpc]`.",
    )
    grpc_processes: int = _setting(
        1,
        "gRPC server processes (with `SERVEKIT_GRPC_PORT`): each loads the model once and "
        "makes `SERVEKIT_THREADS` model calls at once; they share the port.",
    )
    runtime_dir: str = _setting(
        "",
        "Folder for each start's runtime files (workers' metric files, the uWSGI master "
        "FIFO, the workers' socket, nginx's files), in a new private `start-<pid>` "
        "subfolder; those of dead servers are removed. Default: `/tmp/servekit-<port>`. "
        "`SERVEKIT_METRICS_DIR` (`--metrics-dir`), its name until 0.1, still works.",
    )
    onnx_providers: str = _setting(
        "",
        "ONNX models: comma-separated onnxruntime execution providers, best first "
        "(default: CUDA when a GPU is visible, else CPU).",
    )
    onnx_threads: int = _setting(
        0,
        "ONNX models: intra-op threads per worker; 0 divides the usable cores among the "
        "worker processes.",
    )
    r_simplify: bool = _setting(
        False,
        "R models: pass JSON arrays of scalars as R vectors (so `sum(x)` works) instead of lists.",
    )
    async_store: str = _setting(
        "",
        "Job store for asynchronous predictions: `sqlite:///abs/path/jobs.db` (one pod) or "
        "`redis://host:6379/0` (many pods). Setting it turns the async API on. Default with "
        "`--async-workers`: `sqlite:///<runtime_dir>/jobs.db`.",
    )
    async_workers: int = _setting(
        0,
        "`servekit serve`: worker processes that run asynchronous jobs beside the HTTP "
        "server (0: none; run `servekit worker` elsewhere, sharing SERVEKIT_ASYNC_STORE).",
    )
    async_max_body_bytes: int = _setting(
        10 * 1024,
        "Largest asynchronous request body; larger ones get 413 PAYLOAD_TOO_LARGE.",
    )
    async_max_result_bytes: int = _setting(
        10 * 1024,
        "Largest asynchronous result (as JSON); a larger one fails the job, telling the "
        "user to return a reference (a URL or object key) instead.",
    )
    async_max_queued: int = _setting(
        1000,
        "Asynchronous jobs that may wait for a worker at once (queued, not yet started); "
        "a submission beyond them gets 429 TOO_MANY_REQUESTS with `Retry-After`. The "
        "default absorbs a burst of a thousand requests while it bounds the queued input "
        "at about 10 MiB per model version (1000 bodies of SERVEKIT_ASYNC_MAX_BODY_BYTES, "
        "10 KiB) in the SQLite file or Redis's memory. Retries of accepted jobs are never "
        "refused.",
    )
    async_queue_seconds: int = _setting(
        1800,
        "Seconds an asynchronous job may wait for a worker (since it was queued, or queued "
        "again after a failed attempt); then it is `failed` with an `EXPIRED` error and "
        "its input deleted, so a client polling it stops waiting. Default: 30 minutes, "
        "Domino's window for an asynchronous request.",
    )
    async_retention_seconds: int = _setting(
        1800,
        "Seconds a finished asynchronous job (input and result) is kept; then it is deleted "
        "and its id answers 404.",
    )
    async_timeout: int = _setting(
        1800,
        "Seconds one attempt at an asynchronous job may run before it is stopped (a "
        "TIMEOUT, retried like a model error); separate from SERVEKIT_TIMEOUT.",
    )
    async_max_attempts: int = _setting(
        3,
        "Attempts at an asynchronous job before it is `failed` (a model error, a timeout "
        "or a lost worker each count as one).",
    )
    async_lease_seconds: int = _setting(
        30,
        "A running job's lease: its worker renews it while the job runs; a job whose worker "
        "died is taken again after this many seconds.",
    )
    amqp_url: str = _setting(
        "",
        "`servekit worker`: a RabbitMQ URL (`amqp://user:password@host:5672/vhost`, "
        "`amqps://` for TLS). Setting it makes the worker answer "
        "SeldonMessages from SERVEKIT_AMQP_INPUT_QUEUE on SERVEKIT_AMQP_OUTPUT_QUEUE, as "
        "Seldon's executor does, instead of running asynchronous jobs.",
        secret=True,
    )
    amqp_input_queue: str = _setting(
        "",
        "The queue `servekit worker --amqp` takes request SeldonMessages from (declared durable).",
    )
    amqp_output_queue: str = _setting(
        "",
        "The queue the replies are published to, each with its request's `meta.puid` "
        "(declared durable).",
    )
    amqp_max_result_bytes: int = _setting(
        10 * 1024,
        "Largest reply (as JSON) published to the output queue; a larger one is replaced "
        "by Seldon's FAILURE status `Payload size is greater than allowed size`.",
    )
    unit_parameters: str = _setting(
        "",
        "Keyword arguments for a class TARGET's constructor, as Seldon's JSON "
        '`[{"name", "value", "type": INT|FLOAT|DOUBLE|STRING|BOOL}]`; read from '
        "`PREDICTIVE_UNIT_PARAMETERS` (what Seldon Core sets) when unset.",
    )
    capture: str = _setting(
        "",
        "Record every (sampled) prediction: `file:///DIR` (JSON Lines in DIR, rotated and "
        "compressed), `http(s)://...` (CloudEvents, as KServe's request logger sends them) "
        "or `redis://HOST:PORT/DB?stream=NAME` (a Redis stream, capped); empty: off. A "
        "slow or dead sink never slows or fails a request: records are dropped and counted.",
    )
    capture_sample: float = _setting(
        1.0, "The fraction of predictions recorded with `SERVEKIT_CAPTURE` (0 to 1)."
    )
    capture_queue: int = _setting(
        10000,
        "Records each process holds for the capture sink; past that they are dropped "
        '(`servekit_capture_records_total{outcome="dropped"}`).',
    )
    capture_rotate_bytes: int = _setting(
        64 * 1024 * 1024,
        "A `file://` capture's file is rotated (and gzipped) past this size...",
    )
    capture_rotate_seconds: int = _setting(3600, "...or this age, whichever comes first.")
    batch_max_size: int = _setting(
        0,
        "Adaptive batching: the most requests one model call takes. Above 1 it turns "
        "batching on for ONNX graphs whose inputs share a dynamic first dimension; it is "
        "the size of `@servekit.batch` functions that give none (0: 32 for those).",
    )
    batch_max_wait_ms: float = _setting(
        -1.0,
        "Adaptive batching: how long a batch's first request waits for others already "
        "in the worker's hands (a lone request does not wait; a job worker's waits for "
        "jobs), in milliseconds (below 0: 5, or what `@servekit.batch` gives).",
    )
    example_request: str = _setting(
        "",
        'A JSON file with an example request body (`{"data": {...}}` or '
        '`{"parameters": ...}`), shown prefilled on the tester page at `/` instead of the '
        "example servekit makes from the signature. A relative path is relative to the "
        "directory servekit is started in; a missing or invalid file stops start-up.",
    )
    dev: bool = _setting(
        False,
        "Run Flask's development server with code reloading instead of uWSGI "
        "(one process; never in production).",
    )

    def __post_init__(self) -> None:
        check(self)
        if self.example_request:  # read when the server starts (servekit.http.example_file)
            object.__setattr__(self, "example_request", os.path.abspath(self.example_request))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from ``SERVEKIT_*`` variables; ``overrides`` (e.g. CLI flags) win."""
        values: dict[str, Any] = {}
        for name, old in OLD_NAMES.items():  # a setting's former variable, when it is unset
            if env_name(name) not in environ and old in environ:
                values[name] = environ[old]
        for f in dataclasses.fields(cls):
            raw = environ.get(env_name(f.name))
            if raw is not None:
                values[f.name] = parse_value(f.name, _type_of(f), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def redacted_env(self) -> dict[str, str]:
        """:meth:`to_env` with secret settings masked, for printing."""
        secret = {env_name(f.name) for f in dataclasses.fields(self) if f.metadata["secret"]}
        return {k: ("***" if k in secret and v else v) for k, v in self.to_env().items()}

    def to_env(self) -> dict[str, str]:
        """Every setting as a ``SERVEKIT_*`` variable, as :meth:`from_env` reads them."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[env_name(f.name)] = (
                ("1" if value else "0") if isinstance(value, bool) else str(value)
            )
        return out

    @property
    def worker_processes(self) -> int:
        """The number of uWSGI workers: ``processes``, or the usable cores when 0."""
        return self.processes or usable_cores()

    @property
    def async_enabled(self) -> bool:
        """True when this server accepts asynchronous predictions."""
        return bool(self.async_store) or self.async_workers > 0

    @property
    def runtime_path(self) -> Path:
        """The folder holding each start's runtime files (``runtime_dir`` or its default)."""
        chosen = self.runtime_dir or Path(tempfile.gettempdir()) / f"servekit-{self.port}"
        return Path(chosen).absolute()

    @property
    def async_store_url(self) -> str:
        """``async_store``, or the embedded default beside the runtime files."""
        return self.async_store or f"sqlite://{self.runtime_path / 'jobs.db'}"

    @staticmethod
    def docs() -> list[tuple[str, str, str, str]]:
        """(field, environment variable, default, description) for every setting."""
        return [
            (f.name, env_name(f.name), repr(f.default), f.metadata["doc"])
            for f in dataclasses.fields(Settings)
        ]


def _type_of(f: dataclasses.Field[Any]) -> type:
    return {"int": int, "bool": bool, "str": str, "float": float}[str(f.type)]
