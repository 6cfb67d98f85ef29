"""servekit's benchmarks: the in-process path (pytest-benchmark) and HTTP load against a
bare Flask + uWSGI baseline in the same run. Run ``python -m benchmarks``."""
