"""Models the benchmarks serve: the same functions for servekit and the baseline."""
