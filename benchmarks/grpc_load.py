"""An open loop over the Open Inference Protocol's gRPC service, beside the HTTP ones.

Request *i* is due at ``start + i/rate``; its latency runs from that time to the whole
answer, over one HTTP/2 channel (how gRPC clients call: one connection, many calls), so
queueing is never hidden. The request is a serialized ``ModelInferRequest`` sent as it
is (no client-side encoding per call), and an answer counts only when it parses and its
raw output equals the expected bytes. Bounded in count and time; 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio

import grpc

from benchmarks.load import ClosedLoop, OpenLoop, scheduled
from servekit.protocols.v2.stubs import SERVICE, messages

__all__ = ["first_answer", "grpc_closed_loop", "grpc_open_loop", "infer_request"]


def infer_request(model: str, inputs: list[tuple[str, str, list[int], bytes]]) -> bytes:
    """A serialized ModelInferRequest of ``inputs`` (name, datatype, shape, raw bytes)."""
    request = messages()["ModelInferRequest"](model_name=model)
    for name, datatype, shape, raw in inputs:
        request.inputs.add(name=name, datatype=datatype, shape=shape)
        request.raw_input_contents.append(raw)
    return bytes(request.SerializeToString())


def first_answer(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """The first raw output ``request`` gets (what every later answer must equal)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout)
        answer = channel.unary_unary(f"/{SERVICE}/ModelInfer")(request, timeout=timeout)
    return bytes(messages()["ModelInferResponse"].FromString(answer).raw_output_contents[0])


async def _open_loop(
    port: int, request: bytes, expect: bytes, rate: float, seconds: float, timeout: float
) -> OpenLoop:
    parse = messages()["ModelInferResponse"].FromString
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/ModelInfer")
        await asyncio.wait_for(channel.channel_ready(), 10)

        async def one() -> str:
            try:
                answer = parse(await call(request, timeout=timeout))
            except grpc.RpcError as exc:
                return str(exc)[:200]
            right = answer.raw_output_contents and answer.raw_output_contents[0] == expect
            return "" if right else "wrong answer"

        return await scheduled(rate, seconds, one)


def grpc_open_loop(
    port: int, request: bytes, expect: bytes, rate: float = 100.0, seconds: float = 10.0,
    timeout: float = 5.0,
) -> OpenLoop:  # fmt: skip
    """Call ``ModelInfer`` ``rate`` times a second for ``seconds`` seconds."""
    return asyncio.run(_open_loop(port, request, expect, rate, seconds, timeout))


async def _closed_loop(
    port: int, request: bytes, expect: bytes, seconds: float, callers: int
) -> ClosedLoop:
    parse = messages()["ModelInferResponse"].FromString
    done, errors = 0, 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/ModelInfer")
        await asyncio.wait_for(channel.channel_ready(), 10)
        loop = asyncio.get_running_loop()
        began = loop.time()
        end = began + seconds

        async def caller() -> None:
            nonlocal done, errors
            while loop.time() < end:
                try:
                    answer = parse(await call(request, timeout=5.0))
                    ok = answer.raw_output_contents[0] == expect
                except (grpc.RpcError, IndexError):
                    ok = False
                done += 1
                errors += not ok

        await asyncio.gather(*(caller() for _ in range(callers)))
        spent = loop.time() - began
    return ClosedLoop(callers, seconds, done / spent, errors, requests=done)


def grpc_closed_loop(
    port: int, request: bytes, expect: bytes, seconds: float = 5.0, callers: int = 8
) -> ClosedLoop:
    """``callers`` concurrent callers on one channel for ``seconds``: the calls a second
    (the Python client is the load generator: a floor on what the server can do)."""
    return asyncio.run(_closed_loop(port, request, expect, seconds, callers))
