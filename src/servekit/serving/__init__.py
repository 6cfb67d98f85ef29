"""Process management: uWSGI options and the worker entry point."""
