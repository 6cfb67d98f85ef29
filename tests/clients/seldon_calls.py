"""Seldon's own client (seldon_core.seldon_client.SeldonClient) calling one microservice.

Run with the Seldon venv's Python: ``python seldon_calls.py HOST:PORT CALLS_JSON``, where
CALLS_JSON is a list of keyword-argument objects for ``SeldonClient.microservice``
(``data`` given as nested lists, ``bin_data`` as text). Prints one JSON line per call:
``{"success", "response"}`` with the response as protobuf's JSON dict.
"""

import json
import sys

import numpy as np
from google.protobuf.json_format import MessageToDict
from seldon_core.seldon_client import SeldonClient


def main() -> None:
    endpoint, calls = sys.argv[1], json.loads(sys.argv[2])
    client = SeldonClient(microservice_endpoint=endpoint)
    for call in calls:
        if "data" in call:
            call["data"] = np.array(call["data"])
        if "bin_data" in call:
            call["bin_data"] = call["bin_data"].encode()
        found = client.microservice(method="predict", **call)
        response = MessageToDict(found.response) if found.response is not None else None
        print(json.dumps({"success": found.success, "response": response}, sort_keys=True))


if __name__ == "__main__":
    main()
