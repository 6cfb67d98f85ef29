"""The ``redis://`` capture sink: a Redis stream, capped in length.

``redis://[:PASSWORD@]HOST:PORT/DB?stream=NAME&maxlen=N`` (``rediss://`` for TLS):
each record is one stream entry with a ``record`` field holding its JSON line (ground
truth goes to the stream ``NAME:ground-truth``). The stream is trimmed to about
``maxlen`` entries (default 1,000,000) as entries are added, so a consumer that stops
never fills Redis. A batch is one pipeline.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

from servekit.errors import ConfigError

__all__ = ["DEFAULT_MAXLEN", "DEFAULT_STREAM", "RedisSink"]

DEFAULT_STREAM = "servekit:capture"
DEFAULT_MAXLEN = 1_000_000


class RedisSink:
    """Adds records to a capped Redis stream."""

    def __init__(self, url: str, suffix: str = "") -> None:
        try:
            import redis
        except ModuleNotFoundError:
            raise ConfigError(
                "SERVEKIT_CAPTURE=redis:// needs the redis package: pip install 'servekit[redis]'"
            ) from None
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.stream = query.pop("stream", [DEFAULT_STREAM])[0] + suffix
        try:
            self.maxlen = int(query.pop("maxlen", [str(DEFAULT_MAXLEN)])[0])
        except ValueError:
            raise ConfigError("SERVEKIT_CAPTURE: maxlen must be a whole number") from None
        rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
        plain = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        self.client = redis.Redis.from_url(plain, socket_timeout=5, socket_connect_timeout=5)

    def write(self, lines: list[bytes]) -> None:
        """Add one entry per line, trimming the stream."""
        pipe = self.client.pipeline(transaction=False)
        for line in lines:
            pipe.xadd(self.stream, {"record": line.rstrip(b"\n")}, maxlen=self.maxlen)
        pipe.execute()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
