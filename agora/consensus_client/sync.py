"""Block sync: which peer is at which height, and blocks fetched from several of them.

Sans-IO: the consensus actor passes the time, sends the `Request`s this returns
through peer_net and hands back each `Response` / `RequestFailed`.

- **Heights**: each peer is asked STATUS_REQUEST on joining and then every
  `status_interval_s`; the answer is its last stored height.
- **Ranges**: the heights after the last one handed to the chain, up to
  `window` ahead and no further than the best known peer, are cut into ranges
  of `batch` heights; each range goes to a peer that has it, with at most
  `per_peer` requests in flight to one peer, so several peers serve at once.
  A failed or timed-out request frees its range for another peer. An answer
  may stop short (it is bounded in bytes) but never be empty for a height the
  peer said it has: that costs it `blocks_withheld` (20), so a peer that
  claims heights it does not serve cannot keep this node syncing.
- **Checks**: every block's header must be the height asked for and its commit
  must be for that block and signed by +2/3 of the validator set
  (`Commit.verify`) before it is kept. The rest of the block is checked when the
  chain commits it; a block it refuses is fetched again elsewhere and its
  sender is penalized.
- **Order**: `to_commit` hands the chain the next heights in order, at most
  `max_committing` at once.

A bad response raises RemoteError before anything is kept; the caller
penalizes the peer that sent it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agora.blockchain.votes import Commit, ValidatorSet
from agora.blockchain.wire import (
    blocks_codec,
    decode_status,
    encode_blocks_request,
    split_header,
)
from agora.codec import sha256
from agora.errors import RemoteError
from agora.peer_net.handlers import AppCode
from agora.peer_net.header import DEFAULT_MAX_FRAME
from agora.peer_net.messages import Request

STATUS = "status"
BLOCKS = "blocks"


@dataclass
class PeerState:
    height: int = -1  # -1: not known yet
    status_at: float = -1e9  # when we last asked
    status_pending: bool = False
    inflight: int = 0  # block requests
    served: int = 0  # blocks received


@dataclass(frozen=True)
class Ask:
    peer: bytes
    kind: str
    start: int = 0
    count: int = 0
    sent: float = 0.0


@dataclass
class Ready:
    block: bytes
    commit: Commit
    peer: bytes


@dataclass
class SyncParams:
    batch: int = 16
    window: int = 256
    per_peer: int = 2
    max_committing: int = 8
    request_timeout_s: float = 5.0
    status_interval_s: float = 1.0
    max_body: int = DEFAULT_MAX_FRAME


@dataclass
class BlockSync:
    chain_id: str
    valset: ValidatorSet
    height: int  # the chain's last stored height
    params: SyncParams = field(default_factory=SyncParams)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.queued = self.height  # the highest height handed to the chain
        self.peers: dict[bytes, PeerState] = {}
        self.asks: dict[int, Ask] = {}
        self.ready: dict[int, Ready] = {}
        self.synced = 0  # blocks this node committed through sync
        self.committing: dict[int, bytes] = {}  # height handed to the chain -> its sender
        self._next_id = 1
        self._codec = blocks_codec(self.params.max_body)

    # --- peers ---

    def peer_up(self, peer: bytes) -> None:
        self.peers.setdefault(peer, PeerState())

    def peer_down(self, peer: bytes) -> None:
        self.peers.pop(peer, None)
        for req_id in [i for i, a in self.asks.items() if a.peer == peer]:
            del self.asks[req_id]

    def target(self) -> int:
        """The best height a peer has said it has (our own if none is higher)."""
        return max([self.height, *(p.height for p in self.peers.values())])

    def peer_heights(self) -> dict[bytes, int]:
        return {pid: p.height for pid, p in self.peers.items()}

    def idle(self) -> bool:
        """Nothing handed to the chain waits for its answer."""
        return self.queued == self.height

    # --- asking ---

    def status_requests(self, now: float, interval: float | None = None) -> list[Request]:
        every = self.params.status_interval_s if interval is None else interval
        out = []
        for pid, p in self.peers.items():
            if not p.status_pending and now - p.status_at >= every:
                p.status_pending, p.status_at = True, now
                out.append(self._request(pid, Ask(pid, STATUS, sent=now), AppCode.STATUS_REQUEST))
        return out

    def block_requests(self, now: float, upto: int | None = None) -> list[Request]:
        """Requests for the heights not yet held or asked for, up to the window."""
        top = min(self.queued + self.params.window, self.target())
        if upto is not None:
            top = min(top, upto)
        covered = set(self.ready)
        for a in self.asks.values():
            if a.kind == BLOCKS:
                covered.update(range(a.start, a.start + a.count))
        out = []
        h = self.queued + 1
        while h <= top:
            if h in covered:
                h += 1
                continue
            pid = self._pick(h)
            if pid is None:
                break  # nobody can take more now
            p = self.peers[pid]
            end = min(h + self.params.batch - 1, top, p.height)
            while end > h and any(x in covered for x in range(h + 1, end + 1)):
                end -= 1
            ask = Ask(pid, BLOCKS, h, end - h + 1, now)
            p.inflight += 1
            body = encode_blocks_request(h, ask.count)
            out.append(self._request(pid, ask, AppCode.BLOCKS_REQUEST, body))
            covered.update(range(h, end + 1))
            h = end + 1
        return out

    def _pick(self, height: int) -> bytes | None:
        able = [
            pid
            for pid, p in self.peers.items()
            if p.height >= height and p.inflight < self.params.per_peer
        ]
        if not able:
            return None
        least = min(self.peers[pid].inflight for pid in able)
        return self.rng.choice(sorted(pid for pid in able if self.peers[pid].inflight == least))

    def _request(self, pid: bytes, ask: Ask, code: int, body: bytes = b"") -> Request:
        req_id = self._next_id
        self._next_id += 1
        self.asks[req_id] = ask
        return Request(req_id, pid, code, body, self.params.request_timeout_s)

    def expire(self, now: float) -> None:
        """Forget asks whose answer never came (peer_net reports timeouts; this is a
        backstop so that a lost report cannot hold a range forever)."""
        limit = self.params.request_timeout_s * 2 + 1
        for req_id in [i for i, a in self.asks.items() if now - a.sent > limit]:
            self.on_failed(req_id)

    # --- answers ---

    def on_failed(self, req_id: int) -> None:
        ask = self.asks.pop(req_id, None)
        if ask is not None:
            self._settle(ask)

    def _settle(self, ask: Ask) -> None:
        p = self.peers.get(ask.peer)
        if p is None:
            return
        if ask.kind == STATUS:
            p.status_pending = False
        else:
            p.inflight = max(0, p.inflight - 1)

    def on_response(self, req_id: int, peer: bytes, body: bytes) -> int:
        """Take an answer; how many new blocks it brought. RemoteError if it is bad."""
        ask = self.asks.pop(req_id, None)
        if ask is None or ask.peer != peer:
            return 0  # a request we gave up on (peer down)
        self._settle(ask)
        p = self.peers.get(peer)
        if ask.kind == STATUS:
            status = decode_status(body)
            if p is not None:
                p.height = status.height
            return 0
        resp = self._codec.decode(body)
        if resp.start != ask.start or len(resp.blocks) > ask.count:
            raise RemoteError("blocks response for another range", code="bad_blocks", penalty=100)
        checked = [
            self._check(ask.start + i, sb.block, sb.commit) for i, sb in enumerate(resp.blocks)
        ]
        if p is not None:
            p.served += len(checked)
            if not checked:  # a stored first block is always sent: it does not have it
                claimed, p.height = p.height, min(p.height, ask.start - 1)
                if claimed >= ask.start:
                    raise RemoteError(
                        f"said it had {claimed}, sent nothing from {ask.start}",
                        code="blocks_withheld",
                        penalty=20,
                    )
        new = 0
        for i, (block, commit) in enumerate(checked):
            h = ask.start + i
            if h > self.queued and h not in self.ready:
                self.ready[h] = Ready(block, commit, peer)
                new += 1
        return new

    def _check(self, height: int, block: bytes, commit: Commit) -> tuple[bytes, Commit]:
        raw, header = split_header(block)
        if header.height != height or header.chain_id != self.chain_id:
            raise RemoteError(
                f"block {header.height} where {height} was asked", code="bad_blocks", penalty=100
            )
        if commit.height != height or commit.block_id != sha256(raw):
            raise RemoteError("the commit is for another block", code="bad_commit", penalty=100)
        commit.verify(self.chain_id, self.valset)
        return block, commit

    # --- committing ---

    def to_commit(self) -> list[tuple[int, Ready]]:
        """The next heights for the chain, in order."""
        out = []
        while (
            self.queued + 1 in self.ready and self.queued - self.height < self.params.max_committing
        ):
            self.queued += 1
            r = self.ready.pop(self.queued)
            self.committing[self.queued] = r.peer
            out.append((self.queued, r))
        return out

    def take(self, height: int) -> Ready | None:
        """The block for `height` if it was fetched (consensus catch-up)."""
        return self.ready.pop(height, None)

    def on_committed(self, height: int) -> None:
        if self.committing.pop(height, None) is not None:
            self.synced += 1
        if height > self.height:
            self.height = height
        self.queued = max(self.queued, self.height)
        for h in [h for h in self.ready if h <= self.height]:
            del self.ready[h]

    def on_commit_failed(self, height: int) -> bytes | None:
        """The chain refused `height`: fetch it and what followed again. The peer that
        sent it, if it came from sync (the blocks after it fail only for its sake)."""
        sender = self.committing.pop(height, None)
        for h in [h for h in self.committing if h > height]:
            del self.committing[h]
        self.queued = self.height
        return sender
