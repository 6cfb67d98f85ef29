"""A model that records every call, shared by the queue tests (async jobs and AMQP).

``predict(x, pause=0, size=0)`` appends ``<pid> <x>`` to ``started.txt`` when a call
begins and ``x`` to ``calls.txt`` when it ends, raises for ``x == 13``, sleeps ``pause``
and returns ``{"double": 2x, "pad": "x" * size}``: so a test can tell which process ran
what, and that each job ran exactly once.
"""

from __future__ import annotations

from pathlib import Path

SOURCE = """
    import os
    import time
    from pathlib import Path

    HERE = Path(__file__).parent

    def predict(x: int, pause: float = 0.0, size: int = 0):
        with (HERE / "started.txt").open("a") as f:
            f.write(f"{os.getpid()} {x}\\n")
        if x == 13:
            raise ValueError("thirteen is unlucky")
        time.sleep(pause)
        with (HERE / "calls.txt").open("a") as f:
            f.write(f"{x}\\n")
        return {"double": 2 * x, "pad": "x" * size}
"""


def calls(project: Path) -> list[int]:
    """Every ``x`` the model finished, sorted."""
    path = project / "calls.txt"
    return sorted(int(x) for x in path.read_text().split()) if path.exists() else []
