"""Runtimes: the kinds of model servekit can serve, behind one small seam.

Every runtime implements :class:`~servekit.core.runtime.Runtime` and is declared by a
:class:`~servekit.runtimes.plugin.RuntimePlugin` in the ``servekit.runtimes`` entry
points, servekit's own (:mod:`servekit.runtimes.builtin`) as any other package's.
:func:`parse_target` asks the plugins which one claims a TARGET; :func:`make_runtime`
has it make the runtime.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from servekit.core.runtime import Runtime
from servekit.runtimes.plugin import PluginSetting, RuntimeContext, RuntimePlugin
from servekit.runtimes.registry import installed, parse_target
from servekit.runtimes.target import Target
from servekit.settings import Settings

__all__ = [
    "PluginSetting",
    "Runtime",
    "RuntimeContext",
    "RuntimePlugin",
    "Target",
    "check_target",
    "make_runtime",
    "parse_target",
]


def make_runtime(
    target: Target,
    project_dir: Path,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """The (not yet loaded) runtime for ``target``, made by the plugin that claimed it;
    the plugin's own settings are read from ``environ`` (default: this process's)."""
    plugin = installed().get(target.runtime).plugin
    options = plugin.options(os.environ if environ is None else environ)
    context = RuntimeContext(project_dir, settings if settings is not None else Settings(), options)
    return plugin.make(target, context)


def check_target(target: Target, project_dir: Path) -> None:
    """Cheap checks before any server starts, running none of the user's code: the
    plugin's own (a missing file; for Python, a syntax error or a missing NAME, see
    :mod:`servekit.runtimes.precheck`), each one LoadError naming the file and line."""
    plugin = installed().get(target.runtime).plugin
    if plugin.check is not None:
        plugin.check(target, project_dir)
