"""KServe's own Python clients (``kserve.InferenceRESTClient``, ``InferenceGRPCClient``)
calling a server, in a process of their own: KServe's and Triton's clients both put the
protocol's ``inference`` messages in protobuf's default pool, so the two cannot be
imported into one test process.

``python -m tests.clients.kserve_calls PROTOCOL ADDRESS MODEL TOKEN REQUEST_JSON``:
PROTOCOL is ``rest-v2``, ``rest-v1``, ``rest-v1-ready`` (the V1 client's
``is_model_ready``) or ``grpc``; REQUEST_JSON is, for V2, ``{"inputs":
[{"name", "datatype", "data"}], "binary": bool, "outputs": [names] | null}`` (``data``
nested lists giving the shape) and, for V1, the request body. Prints one JSON line:
``{"outputs": {name: {"datatype", "shape", "data"}}, "id"}`` (V2) or the answer (V1);
an error prints ``{"error", "status"}`` and exits 0 (the caller asserts on it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32,
          "BOOL": np.bool_, "BYTES": np.object_, "FP16": np.float16, "UINT8": np.uint8}  # fmt: skip


def _request(model: str, spec: dict[str, Any]) -> InferRequest:
    inputs = []
    for given in spec["inputs"]:
        array = np.array(given["data"], dtype=DTYPES[given["datatype"]])
        if given["datatype"] == "BYTES":
            array = np.array([s.encode() for s in array.reshape(-1)], dtype=object).reshape(
                array.shape
            )
        found = InferInput(given["name"], list(array.shape), given["datatype"])
        found.set_data_from_numpy(array, binary_data=spec.get("binary", False))
        inputs.append(found)
    wanted = spec.get("outputs")
    outputs = (
        [RequestedOutput(name, {"binary_data": spec.get("binary", False)}) for name in wanted]
        if wanted
        else None
    )
    return InferRequest(model, inputs, request_id="kserve-1", request_outputs=outputs)


def _described(response: Any) -> dict[str, Any]:
    outputs = {}
    for output in response.outputs:
        array = output.as_numpy()
        data = [x.decode() if isinstance(x, bytes) else x for x in array.reshape(-1).tolist()]
        outputs[output.name] = {
            "datatype": output.datatype,
            "shape": list(array.shape),
            "data": data,
        }
    return {"outputs": outputs, "id": response.id}


async def call(protocol: str, address: str, model: str, token: str, spec: Any) -> Any:
    """One call with KServe's client for ``protocol``."""
    auth = f"Bearer {token}" if token else ""
    if protocol == "grpc":
        client = InferenceGRPCClient(address)
        try:
            metadata = (("authorization", auth),) if auth else None
            return _described(await client.infer(_request(model, spec), headers=metadata))
        finally:
            await client.close()
    version = protocol.removeprefix("rest-")
    config = RESTConfig(protocol=version.removesuffix("-ready"), retries=0, timeout=30)
    rest = InferenceRESTClient(config)
    try:
        headers = {"Authorization": auth} if auth else None
        if version == "v1-ready":
            return await rest.is_model_ready(f"http://{address}", model, headers=headers)
        if version == "v1":
            return await rest.infer(f"http://{address}", spec, model_name=model, headers=headers)
        answer = await rest.infer(
            f"http://{address}", _request(model, spec), model_name=model, headers=headers
        )
        return _described(answer)
    finally:
        await rest.close()


def main() -> None:
    protocol, address, model, token, spec = sys.argv[1:6]
    try:
        found = asyncio.run(call(protocol, address, model, token, json.loads(spec)))
    except Exception as exc:  # the caller asserts on what the client raised
        status = getattr(getattr(exc, "response", None), "status_code", None)
        code = getattr(exc, "code", None)
        found = {
            "error": str(exc),
            "status": status if status is not None else str(code() if callable(code) else ""),
        }
    print(json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main()
