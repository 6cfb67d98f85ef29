"""``python -m servekit``: the same as the ``servekit`` command."""

from servekit.cli import main

raise SystemExit(main())
