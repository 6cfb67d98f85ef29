"""The V2 gRPC messages, compiled from :file:`inference.proto` when first needed.

No generated code is kept: protoc (from ``grpcio-tools``) compiles the protocol's
``.proto``, shipped beside this module, into a descriptor set, and the message classes
are made from it in a descriptor pool of servekit's own, so they never clash with a
client's copy of the same protocol (``tritonclient.grpc``, ``kserve``) in one process.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servekit.errors import ConfigError

__all__ = ["METHODS", "PROTO", "SERVICE", "Messages", "messages"]

PROTO = Path(__file__).with_name("inference.proto")
SERVICE = "inference.GRPCInferenceService"
"""The service's full name, as every V2 client calls it."""
METHODS = (
    "ServerLive",
    "ServerReady",
    "ModelReady",
    "ServerMetadata",
    "ModelMetadata",
    "ModelInfer",
)
"""The service's methods; each takes ``<method>Request`` and answers ``<method>Response``."""


@dataclass(frozen=True)
class Messages:
    """The protocol's message classes, by name (``ModelInferRequest``, ...)."""

    classes: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.classes[name]


def _compile() -> bytes:
    """The serialized FileDescriptorSet of :data:`PROTO`; ConfigError without grpcio
    and grpcio-tools."""
    try:
        import grpc  # noqa: F401  (the server needs it too: say so now)
        from grpc_tools import protoc
    except ModuleNotFoundError:
        raise ConfigError(
            "SERVEKIT_GRPC_PORT needs the grpcio and grpcio-tools packages: "
            "pip install 'servekit[grpc]'"
        ) from None
    with tempfile.TemporaryDirectory(prefix="servekit-proto-") as folder:
        out = Path(folder) / "inference.pb"
        code = protoc.main(
            ["protoc", f"-I{PROTO.parent}", f"--descriptor_set_out={out}", PROTO.name]
        )
        if code != 0 or not out.exists():
            raise ConfigError(f"protoc could not compile {PROTO} (exit {code})")
        return out.read_bytes()


@functools.lru_cache(maxsize=1)
def messages() -> Messages:
    """The message classes (compiled once per process)."""
    compiled = _compile()  # first: it says what to install when grpcio is missing
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(compiled).file:
        pool.Add(file)
    names = [f"{m}{kind}" for m in METHODS for kind in ("Request", "Response")]
    names += ["InferParameter", "InferTensorContents"]
    return Messages(
        {
            name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"inference.{name}"))
            for name in names
        }
    )
