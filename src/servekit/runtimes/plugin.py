"""The runtime plugin contract: how an installed package adds a kind of model to servekit.

A package declares an entry point in the ``servekit.runtimes`` group whose object is a
:class:`RuntimePlugin`::

    # the plugin's pyproject.toml
    [project.entry-points."servekit.runtimes"]
    joblib = "servekit_joblib:PLUGIN"

    # servekit_joblib/__init__.py: cheap to import; the heavy imports go in make()
    PLUGIN = RuntimePlugin(
        name="joblib",
        make=make_runtime,            # (Target, RuntimeContext) -> a Runtime, not loaded
        suffixes=(".joblib",),        # claims model.joblib
        settings_prefix="JOBLIB_",    # its settings are SERVEKIT_JOBLIB_*
        settings=(PluginSetting("method", "predict", "The estimator's method to serve."),),
    )

The plugin claims TARGETs declaratively (a file suffix, a folder holding a marker file,
a URI scheme, or importable modules), so servekit can tell which runtime serves a TARGET
without importing any model code, list what is installed (``servekit runtimes``), and
refuse, naming both, a TARGET two plugins claim. servekit's own runtimes (python, onnx,
r, mlflow) are registered the same way, in servekit's own entry points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servekit._env import ENV_PREFIX, parse_value
from servekit.core.runtime import Runtime
from servekit.errors import ConfigError
from servekit.runtimes.target import Target
from servekit.settings import Settings

__all__ = ["PluginSetting", "RuntimeContext", "RuntimePlugin"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]*_$")


@dataclass(frozen=True)
class PluginSetting:
    """One setting of a plugin: ``SERVEKIT_`` + the plugin's prefix + ``name`` upper-cased.

    Its type is its default's (str, int, float or bool), parsed as servekit's own
    settings are; a value that does not parse stops start-up with the variable's name.
    """

    name: str
    default: str | int | float | bool
    doc: str

    def env(self, prefix: str) -> str:
        """The environment variable this setting is read from."""
        return f"{ENV_PREFIX}{prefix}{self.name.upper()}"


@dataclass(frozen=True)
class RuntimeContext:
    """What :attr:`RuntimePlugin.make` gets besides the TARGET."""

    project_dir: Path
    """The model's folder: the working directory, and on ``sys.path`` for Python."""
    settings: Settings
    """servekit's settings (worker processes, timeouts, ...)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The plugin's own settings by name, parsed, defaults filled in."""


@dataclass(frozen=True)
class RuntimePlugin:
    """A kind of model servekit can serve, and the TARGETs it claims."""

    name: str
    """Short lower-case name: ``servekit runtimes`` lists it and ``SERVEKIT_RUNTIME``
    chooses it; the runtime's ``kind`` should be the same."""
    make: Callable[[Target, RuntimeContext], Runtime]
    """Makes the runtime for a TARGET it claimed; ``load()`` is called later, once per
    process. Import heavy packages here, not at the module's top."""
    summary: str = ""
    """One line for ``servekit runtimes``."""
    suffixes: tuple[str, ...] = ()
    """File suffixes it claims, lower-case with the dot (``.onnx``)."""
    named: bool = False
    """True when its files take ``:NAME`` (``model.R:predict``); False for a file alone."""
    markers: tuple[str, ...] = ()
    """File names that make a folder its TARGET (``MLmodel``)."""
    schemes: tuple[str, ...] = ()
    """URI schemes it claims, written ``SCHEME:/...`` (``models`` for ``models:/churn/1``)."""
    modules: bool = False
    """True when it claims ``package.module:NAME`` (the python runtime)."""
    settings_prefix: str = ""
    """The part of its settings' names after ``SERVEKIT_`` (``ONNX_``)."""
    settings: tuple[PluginSetting, ...] = ()
    """Its own settings (servekit's own with the prefix are listed with them)."""
    requires: tuple[str, ...] = ()
    """Modules it needs that may be missing; ``servekit runtimes`` checks them."""
    install: str = ""
    """What to install when they are missing (``pip install 'servekit[onnx]'``)."""
    check: Callable[[Target, Path], None] | None = None
    """Cheap checks before a server starts, running no model code (a missing file)."""
    fork_safe: bool = False
    """True when a model loaded before uWSGI forks works in the workers (``--preload``)."""

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigError(f"runtime plugin name {self.name!r}: use lower-case letters")
        if self.settings_prefix and not _PREFIX.fullmatch(self.settings_prefix):
            raise ConfigError(
                f"runtime plugin {self.name}: settings_prefix {self.settings_prefix!r} "
                "must be upper-case and end with _ (ONNX_)"
            )
        if self.settings and not self.settings_prefix:
            raise ConfigError(f"runtime plugin {self.name}: settings need a settings_prefix")

    def claim(self, text: str, base: Path) -> tuple[int, Target] | None:
        """The TARGET ``text`` as this plugin reads it, with how strongly it claims it
        (0: a scheme, 1: a marker, 2: a suffix, 3: a module name; the strongest claim
        wins), or None when it does not claim it.

        Relative paths are taken from ``base``. Only a marker claim looks at the disk.
        """
        for scheme in self.schemes:
            if text.startswith(f"{scheme}:/"):
                return 0, Target(text, self.name, "", uri=text)
        location, colon, name = text.rpartition(":")
        if self.markers and not (colon and _DOTTED.fullmatch(name)):
            folder = base / text
            if any((folder / marker).is_file() for marker in self.markers):
                return 1, Target(text, self.name, "", path=folder.resolve())
        if self.suffixes:
            if self.named and colon and location and _DOTTED.fullmatch(name):
                if Path(location).suffix.lower() in self.suffixes:
                    return 2, Target(text, self.name, name, path=(base / location).resolve())
            elif not self.named and Path(text).suffix.lower() in self.suffixes:
                return 2, Target(text, self.name, "", path=(base / text).resolve())
        if self.modules and colon and _DOTTED.fullmatch(location) and _DOTTED.fullmatch(name):
            return 3, Target(text, self.name, name, module=location)
        return None

    def forms(self) -> list[str]:
        """The TARGET forms it claims, as ``servekit runtimes`` and errors show them."""
        named = ":NAME" if self.named else ""
        shown = [f"FILE{suffix}{named}" for suffix in self.suffixes]
        shown += [f"a folder holding {marker}" for marker in self.markers]
        shown += [f"{scheme}:/..." for scheme in self.schemes]
        if self.modules:
            shown.append("package.module:NAME")
        return shown

    def options(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """Its own settings from ``environ`` (defaults for those unset); ConfigError
        naming the variable for a value that does not parse."""
        out: dict[str, Any] = {}
        for setting in self.settings:
            raw = environ.get(setting.env(self.settings_prefix))
            kind = type(setting.default)
            if raw is None:
                out[setting.name] = setting.default
                continue
            try:
                out[setting.name] = parse_value(setting.name, kind, raw)
            except ConfigError:
                wanted = {bool: "true or false", int: "an integer", float: "a number"}
                raise ConfigError(
                    f"{setting.env(self.settings_prefix)} must be "
                    f"{wanted.get(kind, 'text')}, got {raw!r}"
                ) from None
        return out
