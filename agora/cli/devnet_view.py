"""What `agora devnet` prints: the peer table when it changes, a line per new block."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.table import Table

from agora.devnet import NodeEntry, NodeView


class View:
    def __init__(self, nodes: list[NodeEntry], console: Console | None = None) -> None:
        self.nodes = nodes
        self.console = console or Console(highlight=False)
        self._table: tuple[tuple[str, str, tuple[str, ...]], ...] | None = None
        self._height = 0
        self._dead: set[str] = set()

    def poll(self, views: Mapping[str, NodeView | None]) -> None:
        names = {v.node_id: name for name, v in views.items() if v is not None and v.node_id}
        table = tuple(
            (n.name, v.node_id if v else "", tuple(sorted(names.get(p, p[:8]) for p in v.peers)))
            if (v := views.get(n.name)) is not None
            else (n.name, "", ())
            for n in self.nodes
        )
        if table != self._table:
            self._table = table
            self._print_table(table, views)
        self._blocks(views)

    def _print_table(
        self,
        table: tuple[tuple[str, str, tuple[str, ...]], ...],
        views: Mapping[str, NodeView | None],
    ) -> None:
        t = Table(title="peers", title_justify="left")
        for col in ("node", "id", "p2p", "height", "peers"):
            t.add_column(col)
        for node, (name, node_id, peers) in zip(self.nodes, table, strict=True):
            v = views.get(name)
            t.add_row(
                name,
                node_id[:8] or "-",
                node.p2p,
                str(v.height) if v else "-",
                f"{len(peers)}: {', '.join(peers)}" if v else "(starting)",
            )
        self.console.print(t)

    def _blocks(self, views: Mapping[str, NodeView | None]) -> None:
        """One line per committed height, from the first node that reports it."""
        live = [v for v in views.values() if v is not None]
        best = max(live, key=lambda v: v.height, default=None)
        if best is None or best.height <= self._height:
            return
        self._height = best.height
        b = best.last_block
        details = " ".join(f"{k}={str(b[k])[:16]}" for k in ("hash", "txs", "proposer") if k in b)
        self.console.print(f"block {best.height} {details}".rstrip())

    def report_dead(self, name: str) -> bool:
        """True the first time a node is seen dead."""
        if name in self._dead:
            return False
        self._dead.add(name)
        return True
