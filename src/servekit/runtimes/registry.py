"""The installed runtime plugins (entry points ``servekit.runtimes``), and which one
serves a TARGET.

The registry is read once per process, when a TARGET is first parsed (nothing at
import). Loading a plugin imports only its declaring module; a plugin that cannot be
loaded, is not a :class:`~servekit.runtimes.plugin.RuntimePlugin`, or shares its name
with another is a start-up error naming its package.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError, LoadError
from servekit.runtimes.plugin import RuntimePlugin
from servekit.runtimes.target import Target

__all__ = ["ENTRY_POINTS", "Installed", "Registry", "installed", "parse_target"]

ENTRY_POINTS = "servekit.runtimes"
"""The entry-point group runtime plugins are declared in."""


@dataclass(frozen=True)
class Installed:
    """A plugin and the package that declared it."""

    plugin: RuntimePlugin
    package: str
    version: str

    @property
    def origin(self) -> str:
        """``name (package version)``, as errors name it."""
        return f"{self.plugin.name} (from {self.package} {self.version})"


class Registry:
    """The plugins, by name; answers which one serves a TARGET."""

    def __init__(self, plugins: Iterable[Installed]) -> None:
        self.plugins: dict[str, Installed] = {}
        for found in plugins:
            known = self.plugins.get(found.plugin.name)
            if known is not None and known != found:
                raise ConfigError(
                    f"two runtime plugins are named {found.plugin.name!r}: {known.origin} "
                    f"and {found.origin}; uninstall one"
                )
            self.plugins[found.plugin.name] = found

    def get(self, name: str) -> Installed:
        """The plugin named ``name``; LoadError listing the installed ones otherwise."""
        found = self.plugins.get(name)
        if found is None:
            raise LoadError(
                f"no runtime named {name!r} is installed (installed: "
                f"{', '.join(sorted(self.plugins))}); see `servekit runtimes`"
            )
        return found

    def parse(self, spec: str, project_dir: str = "", runtime: str = "") -> Target:
        """The TARGET ``spec`` as the one plugin that claims it reads it.

        ``runtime`` (``SERVEKIT_RUNTIME``) asks that plugin alone. Relative paths are
        taken from ``project_dir`` or the cwd.
        """
        text = spec.strip()
        if not text:
            raise LoadError(f"no TARGET given: name the model as {self._forms()}")
        base = Path(project_dir) if project_dir else Path.cwd()
        chosen = [self.get(runtime)] if runtime else list(self.plugins.values())
        claims = [(found, found.plugin.claim(text, base)) for found in chosen]
        ranked = [(claim[0], found, claim[1]) for found, claim in claims if claim is not None]
        best = min((rank for rank, _, _ in ranked), default=0)
        claimed = [(found, target) for rank, found, target in ranked if rank == best]
        if len(claimed) > 1:
            names = " and ".join(found.origin for found, _ in claimed)
            raise LoadError(
                f"TARGET {spec!r} is claimed by two runtimes: {names}; choose one with "
                f"SERVEKIT_RUNTIME={claimed[0][0].plugin.name} (or uninstall one)"
            )
        if claimed:
            return claimed[0][1]
        if runtime:
            raise LoadError(
                f"the {runtime} runtime (SERVEKIT_RUNTIME) does not serve TARGET {spec!r}: "
                f"it serves {' or '.join(chosen[0].plugin.forms())}"
            )
        raise LoadError(_unclaimed(spec, text, self._forms()))

    def _forms(self) -> str:
        shown = [
            f"{' or '.join(found.plugin.forms())} ({name})"
            for name, found in sorted(self.plugins.items())
            if found.plugin.forms()
        ]
        return "; ".join(shown)


def _unclaimed(spec: str, text: str, forms: str) -> str:
    """Why no runtime claims ``text``: the likeliest mistake first."""
    location, colon, name = text.rpartition(":")
    if colon and location and Path(location).suffix.lower() == ".py":
        return f"TARGET {spec!r}: {name!r} is not a Python name"
    if Path(text).suffix.lower() == ".py":
        return f"TARGET {spec!r} is not of the form path/to/file.py:NAME (name the function)"
    if colon and location and not name.startswith("/"):
        return (
            f"TARGET {spec!r}: {location!r} is neither a .py file nor a module name, "
            f"or {name!r} is not a Python name; TARGETs are: {forms}"
        )
    return f"no installed runtime serves TARGET {spec!r}; TARGETs are: {forms}"


def _load(entry: Any) -> Installed:
    """One entry point's plugin, with its package named in every error."""
    dist = getattr(entry, "dist", None)
    package = dist.metadata["Name"] if dist is not None else "?"
    version = dist.version if dist is not None else "?"
    where = f"runtime plugin {entry.name!r} ({entry.value}, from {package} {version})"
    try:
        plugin = entry.load()
    except Exception as exc:
        raise LoadError(f"cannot load {where}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(plugin, RuntimePlugin):
        raise LoadError(f"{where} is a {type(plugin).__name__}, not a servekit RuntimePlugin")
    if plugin.name != entry.name:
        raise LoadError(f"{where} names itself {plugin.name!r}: the two must agree")
    return Installed(plugin, package, version)


@functools.cache
def installed() -> Registry:
    """The plugins installed in this environment (read once per process)."""
    entries = {(e.name, e.value): e for e in metadata.entry_points(group=ENTRY_POINTS)}
    if not any(value.startswith("servekit.") for _, value in entries):
        raise LoadError(
            "servekit's own runtimes are not registered: servekit is not installed as a "
            "package here (pip install servekit, or pip install -e . in its source)"
        )
    return Registry(_load(entry) for _, entry in sorted(entries.items()))


def parse_target(spec: str, project_dir: str = "", runtime: str = "") -> Target:
    """Parse TARGET text with the installed plugins; relative paths are taken from
    ``project_dir`` or the cwd; ``runtime`` (``SERVEKIT_RUNTIME``) asks that plugin."""
    return installed().parse(spec, project_dir, runtime.strip())
