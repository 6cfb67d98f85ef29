"""The ``servekit`` command: ``servekit serve TARGET [flags]``, ``servekit worker TARGET``,
``servekit grpc TARGET``,
``servekit build PROJECT_DIR --target TARGET``, ``servekit k8s render --name ...``,
``servekit runtimes``.

Flags mirror the settings (``--port`` for ``SERVEKIT_PORT``); see
:class:`~servekit.settings.Settings` or ``servekit serve --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from servekit._version import __version__
from servekit.errors import ConfigError, ServekitError
from servekit.images import command as build_command
from servekit.k8s import command as k8s_command
from servekit.monitor import command as monitor_command
from servekit.runtimes import command as runtimes_command
from servekit.settings import Settings, env_name, parse_value

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="servekit", description=("Serve a Python function or class as an HTTP model endpoint.")
    )
    parser.add_argument("--version", action="version", version=f"servekit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a model on uWSGI",
        description=(
            "Serve TARGET (path/to/file.py:NAME or package.module:NAME, model.onnx, "
            "file.R:NAME, or what `servekit runtimes` lists) over HTTP. Every flag can also "
            "be set as its SERVEKIT_* environment variable."
        ),
    )
    _add_target(serve, "what to serve")
    serve.add_argument(
        "--print-config",
        action="store_true",
        help="print the generated uWSGI configuration and exit",
    )
    _add_setting_flags(serve)
    serve.set_defaults(handler=serve_command)
    worker = commands.add_parser(
        "worker",
        help="run asynchronous jobs, or answer SeldonMessages from RabbitMQ",
        description=(
            "Run TARGET's asynchronous jobs from SERVEKIT_ASYNC_STORE, or with --amqp URL "
            "--input-queue Q --output-queue R answer the SeldonMessages queued on Q with "
            "replies on R, in --processes worker processes (each loads the model once). "
            "SIGTERM lets each finish its job or message."
        ),
    )
    _add_target(worker, "what to run")
    worker.add_argument("--pidfile", default="", help=argparse.SUPPRESS)
    _add_setting_flags(worker)
    worker.set_defaults(handler=worker_command)
    grpc = commands.add_parser(
        "grpc",
        help="serve a model over the Open Inference Protocol's gRPC service",
        description=(
            "Serve TARGET over gRPC (inference.GRPCInferenceService, KServe/Triton V2) on "
            "SERVEKIT_GRPC_PORT, in --grpc-processes processes (each loads the model once). "
            "`servekit serve` runs this beside uWSGI when SERVEKIT_GRPC_PORT is set."
        ),
    )
    _add_target(grpc, "what to serve")
    grpc.add_argument("--pidfile", default="", help=argparse.SUPPRESS)
    _add_setting_flags(grpc)
    grpc.set_defaults(handler=grpc_command)
    # Each adds its command with set_defaults(handler=its run function).
    build_command.add_parser(commands)
    k8s_command.add_parser(commands)
    monitor_command.add_parser(commands)
    runtimes_command.add_parser(commands)
    return parser


_ALIASES = {
    "amqp_url": ("--amqp",),
    "amqp_input_queue": ("--input-queue",),
    "amqp_output_queue": ("--output-queue",),
    "runtime_dir": ("--metrics-dir",),  # its name until 0.1
}
"""Shorter flags some settings also answer to: `servekit worker --amqp URL --input-queue Q
--output-queue R`."""


def _add_target(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "target",
        nargs="?",
        default=None,
        metavar="TARGET",
        help=f"{what} (default: $SERVEKIT_TARGET)",
    )


def _add_setting_flags(command: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(Settings):
        if f.name == "target":
            continue
        flags = ("--" + f.name.replace("_", "-"), *_ALIASES.get(f.name, ()))
        help_text = f"{f.metadata['doc']} [{env_name(f.name)}, default {f.default!r}]"
        if f.type == "bool":
            command.add_argument(
                *flags,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text.replace("%", "%%"),
            )
        else:
            command.add_argument(
                *flags,
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                help=help_text.replace("%", "%%"),
            )


def _overrides(ns: argparse.Namespace) -> dict[str, Any]:
    types = {"int": int, "bool": bool, "str": str, "float": float}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        value = getattr(ns, f.name, None)
        if value is None:
            continue
        out[f.name] = (
            value if isinstance(value, bool) else parse_value(f.name, types[str(f.type)], value)
        )
    return out


def _settings(ns: argparse.Namespace) -> tuple[Settings, Path]:
    """The settings from the environment and flags, with the target made absolute."""
    from servekit.runtimes import parse_target

    settings = Settings.from_env(os.environ, **_overrides(ns))
    target = parse_target(settings.target, settings.project_dir, settings.runtime)
    project_dir = target.project_dir(settings.project_dir)
    settings = dataclasses.replace(
        settings, target=target.absolute_spec, project_dir=str(project_dir)
    )
    return settings, project_dir


def worker_command(ns: argparse.Namespace) -> int:
    """Check the target and the store (or the AMQP settings), then run the job workers
    (or AMQP consumers) until stopped."""
    from servekit.logs import configure_logging
    from servekit.runtimes import check_target, parse_target
    from servekit.serving.jobs import check_store, metrics_folder, metrics_server

    settings, project_dir = _settings(ns)
    metrics_folder(settings)  # before anything imports prometheus_client
    check_target(parse_target(settings.target, settings.project_dir, settings.runtime), project_dir)
    if settings.amqp_url:
        return _amqp_worker(settings, project_dir, ns.pidfile)
    check_store(settings)
    configure_logging(settings.log_format, settings.log_level)
    os.chdir(project_dir)
    from servekit.serving.supervisor import run_supervisor

    extra = metrics_server(settings)
    return run_supervisor(settings, settings.worker_processes, ns.pidfile, extra)


def grpc_command(ns: argparse.Namespace) -> int:
    """Check the target, the port and grpcio, then run the gRPC server until stopped."""
    from servekit.logs import configure_logging
    from servekit.runtimes import check_target, parse_target
    from servekit.serving.grpc_server import check_grpc, grpc_workload
    from servekit.serving.jobs import metrics_folder
    from servekit.serving.supervisor import run_supervisor

    settings, project_dir = _settings(ns)
    if not settings.grpc_port:
        raise ConfigError("servekit grpc needs a port: set SERVEKIT_GRPC_PORT (or --grpc-port)")
    metrics_folder(settings)  # before anything imports prometheus_client
    check_target(parse_target(settings.target, settings.project_dir, settings.runtime), project_dir)
    configure_logging(settings.log_format, settings.log_level)
    if not ns.pidfile:  # under servekit serve, the server has checked it before uWSGI
        check_grpc(settings)
    os.chdir(project_dir)
    workload = grpc_workload(settings)
    return run_supervisor(settings, settings.grpc_processes, ns.pidfile, workload=workload)


def _amqp_worker(settings: Settings, project_dir: Path, pidfile: str) -> int:
    """``servekit worker --amqp``: AMQP consumer processes instead of job workers."""
    from servekit.logs import configure_logging
    from servekit.serving.supervisor import run_supervisor

    try:
        from servekit.serving.amqp import amqp_workload
    except ModuleNotFoundError as exc:
        if exc.name != "pika":
            raise
        raise ConfigError(
            "SERVEKIT_AMQP_URL needs the pika package: pip install 'servekit[amqp]'"
        ) from None
    from servekit.serving.jobs import metrics_server

    workload = amqp_workload(settings)
    configure_logging(settings.log_format, settings.log_level)
    extra = metrics_server(settings, queue_depth=False)
    os.chdir(project_dir)
    return run_supervisor(
        settings, settings.worker_processes, pidfile, extra=extra, workload=workload
    )


def serve_command(ns: argparse.Namespace) -> int:
    """Check the target, then exec uWSGI (or run the development server)."""
    from servekit.logs import configure_logging
    from servekit.runtimes import check_target, parse_target
    from servekit.runtimes.batched import batch_size
    from servekit.runtimes.registry import installed
    from servekit.serving.front import front_of
    from servekit.serving.uwsgi import exec_uwsgi, render_ini, uwsgi_options

    settings, project_dir = _settings(ns)
    target = parse_target(settings.target, settings.project_dir, settings.runtime)
    wanted = batch_size(target, settings)
    if wanted > 1 and settings.threads == 1:
        # A batch forms from the requests one worker handles at once.
        logging.getLogger("servekit").info(
            "batched model: %s threads per worker (SERVEKIT_THREADS) for batches of %s",
            wanted,
            wanted,
        )
        settings = dataclasses.replace(settings, threads=wanted)
    if settings.preload and not installed().get(target.runtime).plugin.fork_safe:
        # e.g. onnxruntime's thread pools and an R child process do not survive fork.
        logging.getLogger("servekit").warning(
            "--preload ignored for %s models: each worker loads its own after fork",
            target.runtime.upper(),
        )
        settings = dataclasses.replace(settings, preload=False)
    front, nginx = front_of(settings) if not settings.dev else ("direct", None)
    if ns.print_config:
        sys.stdout.write(render_ini(uwsgi_options(settings, project_dir, nginx=nginx)))
        for name, value in settings.redacted_env().items():
            sys.stdout.write(f"# env {name}={value}\n")
        return 0
    check_target(target, project_dir)
    if settings.example_request:
        from servekit.http.example_file import read_example

        read_example(settings.example_request)
    if settings.async_enabled:
        from servekit.serving.jobs import check_store

        check_store(settings)
    configure_logging(settings.log_format, settings.log_level)
    if settings.grpc_port and not settings.dev:
        from servekit.serving.grpc_server import check_grpc

        check_grpc(settings)
    check_auth(settings)
    if settings.dev:
        from servekit.serving.dev import run_dev_server

        if settings.grpc_port:
            logging.getLogger("servekit").warning(
                "--dev serves no gRPC: SERVEKIT_GRPC_PORT is ignored (run `servekit grpc "
                "TARGET` beside it)"
            )
        if settings.async_workers:
            logging.getLogger("servekit").warning(
                "--dev runs no job workers: asynchronous jobs stay queued until "
                "`servekit worker TARGET` runs beside it with the same SERVEKIT_ASYNC_STORE"
            )

        return run_dev_server(settings, project_dir)
    logging.getLogger("servekit").info(
        "starting",
        extra={
            "target": settings.target,
            "host": settings.host,
            "port": settings.port,
            "processes": settings.worker_processes,
            "threads": settings.threads,
            "preload": settings.preload,
            "grpc_port": settings.grpc_port,
            "front": front,
            "version": __version__,
        },
    )
    if front == "direct" and settings.front == "auto":
        logging.getLogger("servekit").warning(
            "nginx is not installed, so the workers face clients directly "
            "(SERVEKIT_FRONT=direct): one request per connection, and slow clients can "
            "hold workers. Install nginx (apt-get install nginx) for the shielded front, "
            "or set SERVEKIT_FRONT=direct to say that a buffering proxy stands in front"
        )
    return exec_uwsgi(settings, project_dir, nginx=nginx)


def check_auth(settings: Settings) -> None:
    """Refuse to start without tokens when required; otherwise warn loudly once."""
    from servekit.http.auth import build_authenticator

    if build_authenticator(settings.access_tokens, settings.access_tokens_file).enabled:
        return
    if settings.require_auth:
        raise ConfigError(
            "SERVEKIT_REQUIRE_AUTH is set but no access tokens are configured: "
            "set SERVEKIT_ACCESS_TOKENS or SERVEKIT_ACCESS_TOKENS_FILE"
        )
    logging.getLogger("servekit.http.auth").warning(
        "NO ACCESS TOKENS CONFIGURED: predictions are open to anyone who can reach this "
        "server; set SERVEKIT_ACCESS_TOKENS or SERVEKIT_ACCESS_TOKENS_FILE (and "
        "SERVEKIT_REQUIRE_AUTH=1 to make this an error)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``servekit`` console script and ``python -m servekit``."""
    ns = _parser().parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = ns.handler
        return handler(ns)
    except ServekitError as exc:
        if (
            ns.handler in (serve_command, worker_command, grpc_command)
            and _log_format(ns) == "json"
        ):
            # A server's log is JSON lines, its start-up mistakes too.
            from servekit.logs import configure_logging

            configure_logging("json")
            logging.getLogger("servekit").error("servekit: error: %s", exc.message)
        else:
            sys.stderr.write(f"servekit: error: {exc.message}\n")
        return 2


def _log_format(ns: argparse.Namespace) -> str:
    """The log format a server's start-up error is written in (``json`` unless the flag
    or SERVEKIT_LOG_FORMAT says ``text``; checked even when the settings are not valid)."""
    chosen = getattr(ns, "log_format", None) or os.environ.get(env_name("log_format"), "")
    return "text" if chosen.strip().lower() == "text" else "json"
