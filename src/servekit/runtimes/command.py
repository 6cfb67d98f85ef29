"""``servekit runtimes``: the runtime plugins installed here, what each serves, its
settings, and whether what it needs is installed."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
from typing import Any

from servekit.runtimes.registry import Installed, installed
from servekit.settings import Settings, env_name

__all__ = ["add_parser", "describe", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``runtimes`` command to the CLI's subcommands."""
    runtimes = commands.add_parser(
        "runtimes",
        help="list the installed runtimes (servekit's and plugins')",
        description=(
            "List the runtimes installed in this environment (entry points "
            "`servekit.runtimes`): the TARGETs each serves, its SERVEKIT_* settings, and "
            "whether the packages it needs are installed."
        ),
    )
    runtimes.add_argument("--json", action="store_true", help="print JSON instead of text")
    runtimes.set_defaults(handler=run)


def describe(found: Installed) -> dict[str, Any]:
    """One runtime as ``servekit runtimes --json`` lists it."""
    plugin = found.plugin
    env_prefix = f"SERVEKIT_{plugin.settings_prefix}"
    own = [
        {"env": env_name(f.name), "default": f.default, "doc": f.metadata["doc"]}
        for f in dataclasses.fields(Settings)
        if plugin.settings_prefix and env_name(f.name).startswith(env_prefix)
    ]
    declared = [
        {"env": s.env(plugin.settings_prefix), "default": s.default, "doc": s.doc}
        for s in plugin.settings
    ]
    missing = [name for name in plugin.requires if importlib.util.find_spec(name) is None]
    return {
        "name": plugin.name,
        "package": found.package,
        "version": found.version,
        "summary": plugin.summary,
        "forms": plugin.forms(),
        "settings": own + declared,
        "requires": list(plugin.requires),
        "missing": missing,
        "available": not missing,
        "install": plugin.install,
    }


def run(ns: argparse.Namespace) -> int:
    """Print the installed runtimes; exit 0 (a broken plugin is an error: exit 2)."""
    listed = [describe(found) for _, found in sorted(installed().plugins.items())]
    if ns.json:
        sys.stdout.write(json.dumps(listed, indent=2) + "\n")
        return 0
    for entry in listed:
        sys.stdout.write(f"{entry['name']}  ({entry['package']} {entry['version']})")
        sys.stdout.write(f"  {entry['summary']}\n" if entry["summary"] else "\n")
        sys.stdout.write(f"  serves:   {', '.join(entry['forms']) or '(nothing by itself)'}\n")
        for setting in entry["settings"]:
            sys.stdout.write(f"  setting:  {setting['env']} (default {setting['default']!r})\n")
        if entry["missing"]:
            hint = f": {entry['install']}" if entry["install"] else ""
            sys.stdout.write(f"  MISSING:  {', '.join(entry['missing'])}{hint}\n")
    return 0
