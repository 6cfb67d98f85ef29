"""Where concurrent requests meet for a batched model: :class:`~.batcher.Batcher`.

Each request is parsed and bound on its own, in its own thread, then handed to the
process's batcher, which calls the model once for up to ``max_size`` requests and wakes
each with its own result (see docs/architecture.md, "Batching").
"""
