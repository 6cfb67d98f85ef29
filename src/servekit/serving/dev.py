"""``servekit serve --dev``: Flask's development server with code reloading."""

from __future__ import annotations

import os
from pathlib import Path

from servekit.http import ServerState, create_app
from servekit.loading import load_dataplane
from servekit.settings import Settings

__all__ = ["run_dev_server"]


def run_dev_server(settings: Settings, project_dir: Path) -> int:
    """Serve in this process; the reloader restarts it when a loaded file changes."""
    state = ServerState()
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # the reloader's serving child
        # Only here: the reloading parent re-runs the command line from the original
        # working directory, so relative TARGETs must still resolve there.
        os.chdir(project_dir)
        state.dataplane = load_dataplane(settings)
    app = create_app(settings, state)
    app.run(host=settings.host, port=settings.port, use_reloader=True, threaded=True)
    return 0
