"""Txs in and out of the mempool: gossip batches from peers and submissions over RPC.

A TX_GOSSIP body is a batch of encoded txs (`wire`). Every tx of every batch
that arrived together goes through one `Mempool.add_batch` (the signatures are
verified together on the pool). A batch that brought anything new is relayed
unchanged, so peer_net's seen-cache drops the copies that reach a node twice.
Txs submitted over RPC are gossiped in new batches of up to ~60 KiB. Those
of JSON-RPC batches (`SubmitTxs`, throughput clients) wait in an outbox until
it holds a full batch or the actor flushes it, `LINGER_S` after the first of
them: a load of small batches (a few txs each) otherwise became as many tiny
gossip packets, each paid for again by every peer that received and relayed
it. A lone `tx_submit` flushes the outbox at once, so a client that sends its
next nonce to another node a moment later finds the previous one there.

An honest peer only relays txs it decoded, checked and verified, so a batch
that does not decode, or holds a tx that does not decode, fails a check that
depends only on the tx and the genesis, or whose signature is bad
(`NEVER_RELAYED`), costs its sender `bad_tx_gossip` (100, a ban) and is not
relayed. Any other refusal (an old nonce, a full mempool) is nobody's fault:
states differ. Txs are only decoded here; the mempool's entry does the
stateless checks, once per tx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.blockchain.messages import RpcSubmit, SubmitTx, SubmitTxs
from agora.blockchain.tx import Tx, TxError, decode_tx_env, envelope_bytes
from agora.blockchain.wire import MAX_GOSSIP_BYTES, decode_tx_batch, encode_tx_batch
from agora.errors import RemoteError
from agora.logs import Log
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Broadcast, Inbound, NetCommand, Penalize

if TYPE_CHECKING:
    from agora.blockchain.chain import Chain

BAD_GOSSIP = "bad_tx_gossip"
BAD_GOSSIP_PENALTY = 100
# How long an accepted tx of an RPC batch may wait for others to share its gossip batch
# (at 1,000 tx/s, 25 to 100 ms took a node's per-tx CPU down 4 to 11%).
LINGER_S = 0.05
_log = Log("agora.blockchain.txgossip")

# (ticket, tx hash hex or the refusal; a list of those for a SubmitTxs)
Answered = tuple[int, str | RemoteError | list[str | RemoteError]]
# Refusals that depend only on the tx and the genesis: an honest peer, which relays
# only what its own mempool admitted, never sends such a tx.
NEVER_RELAYED = frozenset(
    {"bad_signature", "wrong_chain", "unknown_kind", "tx_too_large", "missing_body",
     "body_hash_mismatch", "fee_too_low", "bad_body"}
)  # fmt: skip
BUG = RemoteError("no verdict", code="internal")  # replaced for every tx; never answered


class TxGossip:
    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.max_tx_bytes = chain.genesis.params.max_tx_bytes
        self.received_txs = 0
        self.accepted = 0
        self.bad_batches = 0
        self._outbox: list[bytes] = []  # accepted RPC txs not gossiped yet
        self._outbox_bytes = 0

    @property
    def pending(self) -> bool:
        """Accepted txs wait in the outbox (`flush` sends them)."""
        return bool(self._outbox)

    def flush(self) -> list[NetCommand]:
        """The outbox's txs as gossip, the last batch not full."""
        return self._take(full_only=False)

    def _take(self, *, full_only: bool) -> list[NetCommand]:
        out: list[NetCommand] = []
        chunk: list[bytes] = []
        size = 0
        for raw in self._outbox:
            if chunk and size + len(raw) + 5 > MAX_GOSSIP_BYTES:
                out.append(Broadcast(AppCode.TX_GOSSIP, encode_tx_batch(chunk)))
                chunk, size = [], 0
            chunk.append(raw)
            size += len(raw) + 5
        if chunk and not full_only:
            out.append(Broadcast(AppCode.TX_GOSSIP, encode_tx_batch(chunk)))
            chunk, size = [], 0
        self._outbox, self._outbox_bytes = chunk, size
        return out

    def received(self, events: list[Inbound]) -> list[NetCommand]:
        """Admit the txs of these TX_GOSSIP packets; the relays and penalties to send."""
        cmds: list[NetCommand] = []
        batches: list[tuple[Inbound, int, int]] = []  # (event, first tx index, count)
        txs: list[Tx] = []
        envs: list[bytes] = []
        for ev in events:
            decoded = self._decode(ev)
            if decoded is None:
                cmds.append(Penalize(ev.peer_id, BAD_GOSSIP, BAD_GOSSIP_PENALTY))
                continue
            batches.append((ev, len(txs), len(decoded)))
            for tx, env in decoded:
                txs.append(tx)
                envs.append(env)
        mempool = self.chain.mempool
        results = mempool.add_batch(mempool.stage(txs, envs)) if txs else []
        self.received_txs += len(txs)
        for ev, first, n in batches:
            mine = results[first : first + n]
            if any(isinstance(r, TxError) and r.code in NEVER_RELAYED for r in mine):
                self.bad_batches += 1
                cmds.append(Penalize(ev.peer_id, BAD_GOSSIP, BAD_GOSSIP_PENALTY))
                continue
            new = sum(1 for r in mine if isinstance(r, bytes))
            self.accepted += new
            if new:
                cmds.append(Broadcast(AppCode.TX_GOSSIP, ev.body, exclude=ev.peer_id))
        return cmds

    def _decode(self, ev: Inbound) -> list[tuple[Tx, bytes]] | None:
        # Decoding only: the mempool's entry checks the rest, once (see NEVER_RELAYED).
        # The envelope's bytes are cut out of the tx's, not encoded again to hash it.
        try:
            return [decode_tx_env(raw, self.max_tx_bytes) for raw in decode_tx_batch(ev.body)]
        except RemoteError as e:
            self.bad_batches += 1
            _log.info("bad_tx_gossip", peer=ev.peer_id.hex()[:16], code=e.code, error=e.message)
            return None

    def submitted(self, msgs: list[RpcSubmit]) -> tuple[list[Answered], list[NetCommand]]:
        """Admit clients' txs: an answer per ticket (a list for a `SubmitTxs`), and the
        full gossip batches of those accepted (the rest wait in the outbox). One
        `add_batch` for all of them."""
        txs: list[Tx] = []
        raws: list[bytes] = []
        envs: list[bytes] = []  # cut out of the raw bytes (canonical: decoded strictly)
        slots: list[tuple[list[str | RemoteError], int]] = []  # where each tx's verdict goes
        per_msg: list[tuple[SubmitTx | SubmitTxs, list[str | RemoteError]]] = []
        for m in msgs:
            if isinstance(m, SubmitTxs):
                verdicts: list[str | RemoteError] = [BUG] * len(m.txs)
                for i, (tx, raw) in enumerate(zip(m.txs, m.raw, strict=True)):
                    txs.append(tx)
                    raws.append(raw)
                    envs.append(envelope_bytes(tx, raw))
                    slots.append((verdicts, i))
            else:
                verdicts = [BUG]
                try:
                    tx, env = decode_tx_env(m.tx, self.max_tx_bytes)
                    txs.append(tx)
                    envs.append(env)
                    raws.append(m.tx)
                    slots.append((verdicts, 0))
                except RemoteError as e:
                    verdicts[0] = e
            per_msg.append((m, verdicts))
        mempool = self.chain.mempool
        results = mempool.add_batch(mempool.stage(txs, envs)) if txs else []
        fresh: list[bytes] = []
        for (verdicts, i), raw, r in zip(slots, raws, results, strict=True):
            if isinstance(r, TxError):
                verdicts[i] = r
            else:
                verdicts[i] = r.hex()
                fresh.append(raw)
        self.accepted += len(fresh)
        answers: list[Answered] = [
            (m.ticket, v if isinstance(m, SubmitTxs) else v[0]) for m, v in per_msg
        ]
        self._outbox.extend(fresh)
        self._outbox_bytes += sum(len(r) + 5 for r in fresh)
        if any(type(m) is SubmitTx for m in msgs):
            return answers, self._take(full_only=False)
        full = self._outbox_bytes >= MAX_GOSSIP_BYTES
        return answers, self._take(full_only=True) if full else []
