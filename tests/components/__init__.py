"""Tests that start processes (redis-server, R, nginx, sh, forked and spawned Python):
laid out as tests/unit is, after the packages of src/servekit they test."""
