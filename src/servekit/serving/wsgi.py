"""The module uWSGI imports in each worker (or once in the master, with ``preload``).

Importing it reads the settings from the ``SERVEKIT_*`` environment that
``servekit serve`` set, loads the model once, and exposes the WSGI ``application``. If
the model cannot be loaded it reports one clear ``servekit: error:`` record with the
user's traceback (in the text log format: a line, the traceback below it) and exits with
status 22, which makes uWSGI's ``need-app`` stop the whole server (exit status 2,
:mod:`servekit.serving.loadfail`).
This is the one module that does work at import time: it is an entry point, imported
only by uWSGI.
"""

from __future__ import annotations

import signal

# First: a SIGTERM that arrives while a worker is still importing must end it quietly
# (uWSGI sends workers SIGINT before installing its own handlers), not as a failed load.
signal.signal(signal.SIGINT, signal.SIG_DFL)

import atexit  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

from flask import Flask  # noqa: E402

from servekit._proc import MULTIPROC_ENV  # noqa: E402
from servekit.errors import ServekitError  # noqa: E402
from servekit.http import ServerState, create_app  # noqa: E402
from servekit.loading import EXIT_LOAD_FAILED, load_dataplane  # noqa: E402
from servekit.logs import capture_prints, configure_logging  # noqa: E402
from servekit.metrics.exits import say_goodbye  # noqa: E402
from servekit.serving import drain, loadfail  # noqa: E402
from servekit.serving.chunked import ChunkedInput  # noqa: E402
from servekit.serving.deadline import Deadline  # noqa: E402
from servekit.settings import Settings  # noqa: E402

__all__ = ["application", "build"]


def build() -> Flask:
    """Read settings, load the model and return the app; exit 22 if loading fails."""
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_format, settings.log_level)
    capture_prints()  # what the model prints (at load too) becomes log lines
    try:
        import uwsgi  # present only inside uWSGI
    except ImportError:
        return create_app(settings, ServerState(dataplane=load_dataplane(settings)))
    try:
        plane = load_dataplane(settings, concurrency=settings.threads)
    except ServekitError as exc:
        loadfail.report(exc, loadfail.start_folder())
        logging.shutdown()
        # In a worker: uWSGI's need-app stops the server (loadfail makes it exit 2).
        # In the master (preload): no worker exists yet; stop now.
        os._exit(EXIT_LOAD_FAILED if uwsgi.worker_id() else loadfail.EXIT_STATUS)
    state = ServerState(dataplane=plane)
    drain.watch(state)
    atexit.register(_goodbye, settings, state)
    deadline = Deadline(
        settings.timeout,
        _replace_this_worker,
        inline=plane.dispatch is not None,
        arriving=plane.arriving,
    )
    app = create_app(settings, state, run=deadline.run)
    timeout = min(settings.timeout, 60)
    app.wsgi_app = ChunkedInput(  # type: ignore[method-assign]
        app.wsgi_app, lambda: bytes(uwsgi.chunked_read(timeout)), settings.max_body_bytes
    )
    return app


_expired: list[bool] = []


def _replace_this_worker() -> None:
    """uWSGI's graceful signal for one worker: finish this response, exit, be respawned."""
    _expired.append(True)
    os.kill(os.getpid(), signal.SIGHUP)


def _goodbye(settings: Settings, state: ServerState) -> None:
    """This worker's exit note (:mod:`servekit.metrics.exits`): why it ends."""
    import uwsgi

    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    served = next((w["requests"] for w in uwsgi.workers() if w["id"] == uwsgi.worker_id()), 0)
    if _expired:
        reason = "timeout"
    elif settings.max_requests and served >= settings.max_requests and not state.draining:
        reason = "recycled"
    else:
        reason = "stopped"
    say_goodbye(folder, reason)


application = build()
