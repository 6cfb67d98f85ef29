"""Seldon Core's own Python wrapper running a servekit model:
:class:`servekit.seldon.component.ServekitComponent`. The Seldon protocol itself (its
message, Seldon-style classes, the codec) is :mod:`servekit.protocols.seldon`.
"""
