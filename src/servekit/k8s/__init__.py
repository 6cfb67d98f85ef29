"""Kubernetes manifests for servekit models: kustomize templates and ``servekit k8s render``.

The templates (``templates/``: a base, components, overlays and the monitoring pieces)
are plain YAML shipped inside the package, so a pip-installed servekit can render them;
:mod:`servekit.k8s.render` writes a kustomization for one model version that uses a
copy of them, and :mod:`servekit.k8s.command` is the command line.
"""

from __future__ import annotations

from servekit.k8s.render import Release, parse_canary, parse_image, render, templates

__all__ = ["Release", "parse_canary", "parse_image", "render", "templates"]
