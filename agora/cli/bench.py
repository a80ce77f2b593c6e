"""`agora bench …`: benchmarks that measure their own baseline in the same run."""

from __future__ import annotations

from agora.cli import main


@main.group()
def bench() -> None:
    """Run a benchmark; the last line printed is one JSON object."""
