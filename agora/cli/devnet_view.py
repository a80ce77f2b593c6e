"""What `agora devnet` prints: the peer table when it changes, a line per committed block.

Block lines come from the store of the node that is furthest ahead (read-only,
so every height gets its line even when several commit between two polls):
height, block id, txs, the time since the previous block, and the proposer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agora.blockchain.reader import Reader
from agora.devnet import NodeEntry, NodeView
from agora.errors import AgoraError

MAX_LINES_PER_POLL = 50  # more than that at once (a resumed devnet): skip to the last ones


class View:
    def __init__(self, nodes: list[NodeEntry], console: Console | None = None) -> None:
        self.nodes = nodes
        self.console = console or Console(highlight=False)
        self._table: tuple[tuple[str, str, tuple[str, ...]], ...] | None = None
        self._height: int | None = None
        self._dead: set[str] = set()
        self._readers: dict[str, Reader] = {}

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
        for col in ("node", "id", "p2p", "rpc", "height", "peers"):
            t.add_column(col)
        for node, (name, node_id, peers) in zip(self.nodes, table, strict=True):
            v = views.get(name)
            t.add_row(
                name,
                node_id[:8] or "-",
                node.p2p,
                node.rpc,
                str(v.height) if v else "-",
                f"{len(peers)}: {', '.join(peers)}" if v else "(starting)",
            )
        self.console.print(t)

    def _blocks(self, views: Mapping[str, NodeView | None]) -> None:
        """One line per committed height, read from the node furthest ahead."""
        live = [(n, v) for n in self.nodes if (v := views.get(n.name)) is not None]
        if not live:
            return
        node, best = max(live, key=lambda nv: nv[1].height)
        if self._height is None:  # a resumed chain: start at its tip
            self._height = max(0, best.height - 1)
        if best.height <= self._height:
            return
        start = max(self._height + 1, best.height - MAX_LINES_PER_POLL + 1)
        if start > self._height + 1:
            self.console.print(f"… {start - self._height - 1} blocks")
        proposers = {v.validator_key: n.name for n, v in live if v.validator_key}
        try:
            reader = self._reader(node)
            prev = reader.get_block(start - 1) if start > 1 else None
            for h in range(start, best.height + 1):
                block = reader.get_block(h)
                if block is None:
                    return
                hd = block.header
                gap = f"+{(hd.time - prev.header.time) / 1000:.2f}s" if prev else ""
                who = proposers.get(hd.proposer.hex(), hd.proposer.hex()[:8])
                line = f"block {h:>6}  {block.id().hex()[:16]}  txs {len(block.txs):>5}"
                self.console.print(f"{line}  {gap:>7}  {who}")
                prev = block
                self._height = h
        except (sqlite3.Error, AgoraError, OSError):
            b = best.last_block  # the store is not readable yet: what status.json says
            self.console.print(f"block {best.height:>6}  {str(b.get('id', ''))[:16]}")
            self._height = best.height

    def _reader(self, node: NodeEntry) -> Reader:
        r = self._readers.get(node.name)
        if r is None:
            r = self._readers[node.name] = Reader.open(Path(node.home) / "data" / "chain.sqlite")
        return r

    def report_dead(self, name: str) -> bool:
        """True the first time a node is seen dead."""
        if name in self._dead:
            return False
        self._dead.add(name)
        return True

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()
