"""The `agora` command. Each area adds its commands in its own module."""

from __future__ import annotations

import click

from agora import __version__


@click.group()
@click.version_option(__version__, prog_name="agora")
def main() -> None:
    """Agora: a peer-to-peer social network on a BFT blockchain."""


def _register() -> None:
    # Imported for their side effect of adding commands to `main`.
    from agora.cli import (
        account,  # noqa: F401
        bans,  # noqa: F401
        bench,  # noqa: F401
        bench_devnet,  # noqa: F401
        bench_ingest,  # noqa: F401
        bench_p2p,  # noqa: F401
        devnet,  # noqa: F401
        genesis,  # noqa: F401
        node,  # noqa: F401
        sim,  # noqa: F401
        social,  # noqa: F401
        status,  # noqa: F401
    )


_register()
