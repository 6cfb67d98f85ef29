"""``python -m servekit.healthcheck``: the base images' ``HEALTHCHECK``.

Asks the server in this container for ``/healthz`` on ``127.0.0.1:$SERVEKIT_PORT`` and
exits 0 when it answers 200, 1 otherwise, printing one line either way. Standard library
only, so a check costs a few milliseconds of Python start-up and no web framework.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

__all__ = ["check", "main"]


def check(env: Mapping[str, str], timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the local server is alive, and a line saying why."""
    port = env.get("SERVEKIT_PORT", "8080").strip() or "8080"
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        # No proxy: an http_proxy in the image's environment must not catch loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when ``/healthz`` answers 200, else 1."""
    del argv
    healthy, line = check(os.environ)
    print(line)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
