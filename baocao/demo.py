"""The demo deployment's main job: the whole pipeline on a simulated period.

``make demo`` runs this against the repository's own ``config.toml``. It is also a smoke test a
coordinator can run after installing, to see every step work before real units send files.
"""

from __future__ import annotations

from collections.abc import Callable

from . import api

DEMO_PERIOD = "2025-Q1"


def demo(dep: api.Deployment, say: Callable[[str], None] = print) -> dict:
    """Run the demo steps and report, through ``say``, where each result is."""
    files = api.templates(dep, DEMO_PERIOD)
    folder = dep.settings.path("templates") / DEMO_PERIOD
    say(f"Biểu mẫu kỳ {DEMO_PERIOD}: {len(files)} tệp ở {folder}")
    return {"period": DEMO_PERIOD, "templates": [str(f.path) for f in files]}
