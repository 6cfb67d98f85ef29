"""Run Seldon Core's ``seldon-core-microservice`` with its servers on 127.0.0.1 only.

seldon-core 1.18.2 binds gunicorn (REST and metrics) to 0.0.0.0 with no flag to change
it; the tests may listen on loopback only, so this rewrites gunicorn's ``bind`` before
gunicorn reads it. Same command line as ``seldon-core-microservice`` (use it with
``--grpc-workers 0``: gRPC would bind 0.0.0.0 too). Run with the Seldon venv's Python.
"""

import sys

import seldon_core.gunicorn_utils as gunicorn_utils

_load_config = gunicorn_utils.StandaloneApplication.load_config


def _loopback_config(self):  # type: ignore[no-untyped-def]
    bind = self.options.get("bind")
    if bind and bind.startswith("0.0.0.0:"):
        self.options["bind"] = "127.0.0.1:" + bind.split(":", 1)[1]
    _load_config(self)


gunicorn_utils.StandaloneApplication.load_config = _loopback_config

from seldon_core.microservice import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
