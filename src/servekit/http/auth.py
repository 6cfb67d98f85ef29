"""Access tokens: who may call the model.

Tokens come from a list (``SERVEKIT_ACCESS_TOKENS``, comma-separated, so a new token can
be added before the old one is removed) and/or a file (``SERVEKIT_ACCESS_TOKENS_FILE``,
one token per line, ``#`` comments), which is re-read when it changes, as a mounted
Kubernetes Secret does, without a restart.

A request presents a token as ``Authorization: Bearer <token>`` or as HTTP Basic with the
token as user name and/or password (Domino clients send ``auth=(token, token)``). Every
presented value is compared with every token in constant time, as UTF-8 bytes (sent as
UTF-8, or as latin-1 as some clients send it); a missing, malformed or wrong header fails
the same way.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from servekit.errors import ConfigError

__all__ = [
    "Authenticator",
    "FileTokens",
    "StaticTokens",
    "TokenSource",
    "build_authenticator",
    "parse_token_lines",
]

log = logging.getLogger("servekit.http.auth")


class TokenSource(Protocol):
    """Where valid tokens come from."""

    def tokens(self) -> tuple[bytes, ...]:
        """The tokens valid right now."""


class StaticTokens:
    """A fixed list of tokens (from the environment or a flag)."""

    def __init__(self, values: Sequence[str]) -> None:
        self._tokens = tuple(v.strip().encode() for v in values if v.strip())

    def tokens(self) -> tuple[bytes, ...]:
        """The configured tokens."""
        return self._tokens


def parse_token_lines(text: str) -> tuple[bytes, ...]:
    """Tokens from a file's text: one per line; blank lines and ``#`` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line.encode() for line in lines if line and not line.startswith("#"))


class FileTokens:
    """Tokens from a file, re-read when its size, mtime or inode changes.

    The file is looked at no more than once per ``interval`` seconds. If it disappears
    or cannot be read later (a Secret being swapped), the last tokens read stay valid.
    """

    def __init__(
        self, path: str, interval: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self._interval = interval
        self._clock = clock
        self._checked = clock()
        self._signature: tuple[int, int, int] | None = None
        self._tokens: tuple[bytes, ...] = ()
        try:
            self._reload()
        except OSError as exc:
            raise ConfigError(
                f"SERVEKIT_ACCESS_TOKENS_FILE {path!r} cannot be read: {exc}"
            ) from None

    def tokens(self) -> tuple[bytes, ...]:
        """The tokens in the file (re-read if it changed)."""
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            try:
                self._reload()
            except OSError as exc:
                log.warning(
                    "access token file %s cannot be read (%s); keeping the last tokens",
                    self.path,
                    exc,
                )
        return self._tokens

    def _reload(self) -> None:
        info = os.stat(self.path)
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        if signature == self._signature:
            return
        with open(self.path, encoding="utf-8") as f:
            self._tokens = parse_token_lines(f.read())
        if self._signature is not None:
            log.info("access tokens reloaded", extra={"tokens": len(self._tokens)})
        self._signature = signature


class Authenticator:
    """Checks ``Authorization`` headers against every token source."""

    def __init__(self, sources: Sequence[TokenSource]) -> None:
        self.sources = tuple(sources)

    @property
    def enabled(self) -> bool:
        """True when any token source is configured (an empty file still denies all)."""
        return bool(self.sources)

    def allows(self, authorization: str | None) -> bool:
        """True when the header presents a valid token. Constant time in the token.

        ``authorization`` is the header as a WSGI server passes it (its bytes decoded as
        latin-1); a token matches whether the client sent it as UTF-8 or as latin-1.
        """
        presented = _presented(authorization or "")
        valid = [token for source in self.sources for token in source.tokens()]
        matched = False
        for candidate in presented:
            for token in valid:
                matched |= hmac.compare_digest(candidate, token)
        return matched


def _presented(header: str) -> list[bytes]:
    # Under WSGI (PEP 3333) a header value is its bytes decoded as latin-1: encoding it
    # back as latin-1 recovers the bytes the client sent. A value beyond latin-1 did not
    # come through WSGI; it is taken as text.
    try:
        raw = header.encode("latin-1")
    except UnicodeEncodeError:
        raw = header.encode()
    scheme, _, value = raw.strip().partition(b" ")
    value = value.strip()
    if not value:
        return []
    if scheme.lower() == b"bearer":
        return [_utf8(value)]
    if scheme.lower() == b"basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except binascii.Error:
            return []
        user, _, password = decoded.partition(b":")
        return [_utf8(part) for part in (user, password) if part]
    return []


def _utf8(sent: bytes) -> bytes:
    """What the client sent, as UTF-8: itself when it is UTF-8, else read as latin-1.

    curl and most clients send a token's UTF-8 bytes; Python's http.client (a str
    header) and requests' HTTP Basic send latin-1. Either form of a token then matches,
    in a Bearer header and in Basic alike.
    """
    try:
        sent.decode()
    except UnicodeDecodeError:
        return sent.decode("latin-1").encode()
    return sent


def build_authenticator(tokens: str, tokens_file: str) -> Authenticator:
    """The authenticator for the settings' token list (comma-separated) and token file."""
    sources: list[TokenSource] = []
    listed = [t for t in tokens.split(",") if t.strip()]
    if listed:
        sources.append(StaticTokens(listed))
    if tokens_file:
        sources.append(FileTokens(tokens_file))
    return Authenticator(sources)
