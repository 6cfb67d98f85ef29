"""servekit's I/O-free core: the one data plane and everything it needs.

Nothing in this package imports Flask, uWSGI, sockets or threads, and nothing here
touches files or the network. It turns request bytes into typed arguments, calls a
runtime, and turns the result (or an error) into response bytes. Every transport
(HTTP routes, the async worker, Seldon, AMQP) is a thin adapter over
:class:`~servekit.core.dataplane.DataPlane`.

- :mod:`.signature`: a runtime-neutral description of what a model accepts.
- :mod:`.types`: compiles a type annotation into a converter, once, at load.
- :mod:`.binding`: binds ``data`` / ``parameters`` to arguments, collecting every problem.
- :mod:`.jsonbody`: request bodies as JSON (orjson; exact integers, no repeated keys).
- :mod:`.envelope`: Domino's request and response envelopes, and the error envelope.
- :mod:`.encoding`: results to JSON bytes (numpy, dataclasses, datetimes, Decimal, sets).
- :mod:`.dataplane`: parse -> bind -> call -> encode.
"""
