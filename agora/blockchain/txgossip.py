"""Txs in and out of the mempool: gossip batches from peers and submissions over RPC.

A TX_GOSSIP body is a batch of encoded txs (`wire`). Every tx of every batch
that arrived together goes through one `Mempool.add_batch` (the signatures are
verified together on the pool). A batch that brought anything new is relayed
unchanged, so peer_net's seen-cache drops the copies that reach a node twice.
Txs submitted over RPC are gossiped in new batches of up to ~60 KiB.

An honest peer only relays txs it decoded and verified, so a batch that does
not decode, or holds a tx that does not decode or whose signature is bad,
costs its sender `bad_tx_gossip` (100, a ban) and is not relayed. Any other
refusal (an old nonce, a full mempool) is nobody's fault: states differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.blockchain.messages import SubmitTx
from agora.blockchain.tx import Tx, TxError
from agora.blockchain.wire import batch_txs, decode_tx_batch
from agora.errors import RemoteError
from agora.logs import Log
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Broadcast, Inbound, NetCommand, Penalize

if TYPE_CHECKING:
    from agora.blockchain.chain import Chain

BAD_GOSSIP = "bad_tx_gossip"
BAD_GOSSIP_PENALTY = 100
_log = Log("agora.blockchain.txgossip")

Answered = tuple[int, str | RemoteError]  # (ticket, tx hash hex or the refusal)


class TxGossip:
    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.received_txs = 0
        self.accepted = 0
        self.bad_batches = 0

    def received(self, events: list[Inbound]) -> list[NetCommand]:
        """Admit the txs of these TX_GOSSIP packets; the relays and penalties to send."""
        cmds: list[NetCommand] = []
        batches: list[tuple[Inbound, int, int]] = []  # (event, first tx index, count)
        txs: list[Tx] = []
        for ev in events:
            decoded = self._decode(ev)
            if decoded is None:
                cmds.append(Penalize(ev.peer_id, BAD_GOSSIP, BAD_GOSSIP_PENALTY))
                continue
            batches.append((ev, len(txs), len(decoded)))
            txs.extend(decoded)
        results = self.chain.mempool.add_batch(txs) if txs else []
        self.received_txs += len(txs)
        for ev, first, n in batches:
            mine = results[first : first + n]
            if any(isinstance(r, TxError) and r.code == "bad_signature" for r in mine):
                self.bad_batches += 1
                cmds.append(Penalize(ev.peer_id, BAD_GOSSIP, BAD_GOSSIP_PENALTY))
                continue
            new = sum(1 for r in mine if isinstance(r, bytes))
            self.accepted += new
            if new:
                cmds.append(Broadcast(AppCode.TX_GOSSIP, ev.body, exclude=ev.peer_id))
        return cmds

    def _decode(self, ev: Inbound) -> list[Tx] | None:
        try:
            return [self.chain.decode_tx(raw) for raw in decode_tx_batch(ev.body)]
        except RemoteError as e:
            self.bad_batches += 1
            _log.info("bad_tx_gossip", peer=ev.peer_id.hex()[:16], code=e.code, error=e.message)
            return None

    def submitted(self, msgs: list[SubmitTx]) -> tuple[list[Answered], list[NetCommand]]:
        """Admit clients' txs: an answer per ticket, and the gossip of those accepted."""
        answers: list[Answered] = []
        staged: list[tuple[SubmitTx, Tx]] = []
        for m in msgs:
            try:
                staged.append((m, self.chain.decode_tx(m.tx)))
            except RemoteError as e:
                answers.append((m.ticket, e))
        results = self.chain.mempool.add_batch([tx for _, tx in staged]) if staged else []
        fresh: list[bytes] = []
        for (m, _), r in zip(staged, results, strict=True):
            if isinstance(r, TxError):
                answers.append((m.ticket, r))
            else:
                answers.append((m.ticket, r.hex()))
                fresh.append(m.tx)
        self.accepted += len(fresh)
        cmds: list[NetCommand] = [Broadcast(AppCode.TX_GOSSIP, b) for b in batch_txs(fresh)]
        return answers, cmds
