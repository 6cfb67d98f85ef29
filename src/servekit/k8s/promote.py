"""``servekit k8s promote``: move a model's traffic between its rendered versions.

Rewrites the model's folder only (:mod:`servekit.k8s.model`): a canary at a weight, a
blue-green switch (``--weight 100``), or ``--rollback``; and prints the diff of the
manifests it renders (``kubectl kustomize``; without kubectl, of the files written).
:func:`promoted` is the rule, pure; :func:`run` is the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from pathlib import Path

from servekit.errors import ConfigError
from servekit.k8s._kubectl import kustomize
from servekit.k8s.model import ModelState, read_model, write_model

__all__ = ["add_parser", "promoted", "run"]


def promoted(state: ModelState, to: str | None, weight: int, rollback: bool) -> ModelState:
    """``state`` after a promotion of ``to`` to ``weight`` percent, or a rollback: a
    canary is dropped, else the version that was latest before comes back."""
    new = dataclasses.replace(state, history=list(state.history))
    if rollback:
        if to is not None:
            raise ConfigError("--rollback goes back to the version before: give no --to")
        if new.canary:
            new.canary = None
        elif new.history:
            new.latest = new.history.pop()
        else:
            raise ConfigError(f"{state.name}: nothing to roll back to ({state.latest} is latest)")
        return new
    if to is None:
        raise ConfigError("give --to VERSION (with --weight PERCENT for a canary) or --rollback")
    if to not in state.versions:
        raise ConfigError(
            f"version {to} of {state.name} is not rendered (rendered: "
            f"{', '.join(state.versions)}): `servekit k8s render` it first"
        )
    if not 0 <= weight <= 100:
        raise ConfigError(f"--weight {weight}: a percent, 0 to 100")
    if to == state.latest:
        if weight != 100:
            raise ConfigError(f"{to} is latest already: --weight is for another version")
        new.canary = None
    elif weight == 100:
        new.history.append(state.latest)
        new.latest, new.canary = to, None
    elif weight == 0:
        if not state.canary or state.canary[0] != to:
            raise ConfigError(f"--weight 0: {to} is not the canary")
        new.canary = None
    elif state.form == "ingress":
        raise ConfigError(
            "a plain Ingress (render --ingress ingress) has no weights: switch with "
            "--weight 100 (and --rollback), or render with --ingress traefik or without "
            "--ingress (the Gateway API) for a canary"
        )
    else:
        new.canary = (to, weight)
    return new


def _manifests(folder: Path) -> str:
    rendered = kustomize(folder)
    if rendered is None:  # without kubectl: the files written
        return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.yaml")))
    return rendered


def add_parser(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``promote`` to ``servekit k8s``'s subcommands."""
    parser = actions.add_parser(
        "promote",
        help="move a model's traffic to a version (canary, blue-green, rollback)",
        description=(
            "Rewrite the model's folder (written by `servekit k8s render`) so that "
            "/models/NAME/latest/ and /models/NAME/ send PERCENT of their traffic to "
            "VERSION: under 100 a canary beside the latest version, 100 makes VERSION "
            "latest (a blue-green switch). --rollback drops the canary, or else brings "
            "back the version that was latest before. Prints the diff of the rendered "
            "manifests; apply with `kubectl apply -k DIR`. The versions' folders are not "
            "touched."
        ),
    )
    parser.add_argument("--name", required=True, help="the model's name")
    parser.add_argument("--to", metavar="VERSION", help="the version to send traffic to")
    parser.add_argument(
        "--weight",
        type=int,
        default=100,
        metavar="PERCENT",
        help="its percent of the traffic (default 100: it becomes latest; 0 ends its canary)",
    )
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="drop the canary, or else make the version that was latest before latest again",
    )
    parser.add_argument(
        "--model-dir",
        metavar="DIR",
        type=Path,
        help="the model's folder (default: k8s/NAME, where render puts it by default)",
    )
    parser.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    """Run ``servekit k8s promote``: rewrite the model's folder, print the diff; 0 on success."""
    folder: Path = ns.model_dir or Path("k8s") / ns.name
    state = read_model(folder)
    if state is None:
        raise ConfigError(f"{folder} has no model kustomization: `servekit k8s render` first")
    if state.name != ns.name:
        raise ConfigError(f"{folder} routes the model {state.name!r}, not {ns.name!r}")
    new = promoted(state, ns.to, ns.weight, ns.rollback)
    before = _manifests(folder)
    write_model(folder, new)
    after = _manifests(folder)
    sys.stdout.writelines(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"{folder} (before)",
            f"{folder} (after)",
        )
    )
    shares = ", ".join(f"{v}: {w}%" for v, w in new.weights().items())
    print(
        f"servekit: {new.name}: latest {new.latest}; traffic {shares}. Apply it with "
        f"`kubectl apply -k {folder}`",
        file=sys.stderr,
    )
    return 0
