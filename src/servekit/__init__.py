"""servekit: turn a Python function or class into a production HTTP model endpoint.

Importing servekit imports no web framework: the HTTP transport lives in
:mod:`servekit.http` and is loaded by the entry points only.
"""

from servekit._version import __version__
from servekit.core.batching import batch
from servekit.core.constraints import Length, OneOf, Pattern, Range
from servekit.errors import (
    BadJson,
    BadRequest,
    ConfigError,
    InvalidArguments,
    LoadError,
    MethodNotAllowed,
    ModelError,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Problem,
    ServekitError,
    Timeout,
    UnsupportedMediaType,
)
from servekit.settings import Settings

__all__ = [
    "BadJson",
    "BadRequest",
    "ConfigError",
    "InvalidArguments",
    "Length",
    "LoadError",
    "MethodNotAllowed",
    "ModelError",
    "NotFound",
    "NotReady",
    "OneOf",
    "Pattern",
    "PayloadTooLarge",
    "Problem",
    "Range",
    "ServekitError",
    "Settings",
    "Timeout",
    "UnsupportedMediaType",
    "__version__",
    "batch",
]
