"""`agora bench …`: benchmarks that measure their own baseline in the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from agora.cli import main

F = TypeVar("F", bound=Callable[..., Any])

# The options every benchmark has, spelled once.
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print only the JSON result line."
)
quick_option = click.option(
    "--quick", is_flag=True, help="A tiny run (for tests): the numbers mean little."
)


def dir_option(what: str) -> Callable[[F], F]:
    """`--dir` (as `workdir`): where the run's temporary `what` go."""
    return click.option(
        "--dir",
        "workdir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Where the temporary {what} go (default: the system temp dir).",
    )


@main.group()
def bench() -> None:
    """Run a benchmark; the last line printed is one JSON object."""
