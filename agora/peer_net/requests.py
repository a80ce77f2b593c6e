"""Requests and responses correlated by `msg_id`, with timeouts.

`new()` hands out a u32 `msg_id` (never 0, wrapping, skipping ids still in
use or still remembered as late). A response resolves to:

- `Pending`: the request it answers, now done;
- `Late`: it answers a request that timed out a short while ago. The peer
  was slow, not malicious, so it costs nothing;
- `Unsolicited`: nobody asked this peer for it (or not with this code).
  That is a protocol violation: `Unsolicited.error()` is the RemoteError.

Times are monotonic seconds; the tracker never reads a clock itself.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass

from agora.errors import LocalError, RemoteError

MAX_MSG_ID = 2**32 - 1
UNSOLICITED_PENALTY = 100


@dataclass(frozen=True, slots=True)
class Pending:
    peer_id: bytes
    msg_id: int
    code: int
    sent_at: float
    deadline: float
    req_id: int | None = None  # the asking actor's own id, to address its Response
    expect: int | None = None  # the response code that answers it


@dataclass(frozen=True, slots=True)
class Late:
    peer_id: bytes
    msg_id: int
    code: int


@dataclass(frozen=True, slots=True)
class Unsolicited:
    peer_id: bytes
    msg_id: int
    reason: str  # "unknown_msg_id", "wrong_peer" or "wrong_code"

    def error(self) -> RemoteError:
        return RemoteError(
            f"response {self.msg_id} that nobody asked for ({self.reason})",
            code="unsolicited_response",
            penalty=UNSOLICITED_PENALTY,
        )


Resolution = Pending | Late | Unsolicited


class RequestTracker:
    def __init__(
        self, late_memory_s: float = 60.0, max_late: int = 10_000, max_pending: int = 100_000
    ) -> None:
        self.late_memory_s = late_memory_s
        self.max_late = max_late
        self.max_pending = max_pending
        self._pending: dict[int, tuple[Pending, int]] = {}
        self._by_peer: dict[bytes, set[int]] = {}
        self._deadlines: list[tuple[float, int, int]] = []  # (deadline, seq, msg_id)
        self._late: OrderedDict[int, tuple[bytes, int, float]] = OrderedDict()
        self._next = 1
        self._seq = 0

    def new(
        self,
        peer_id: bytes,
        code: int,
        now: float,
        timeout: float,
        *,
        req_id: int | None = None,
        expect: int | None = None,
    ) -> int:
        if len(self._pending) >= self.max_pending:
            raise LocalError(f"{self.max_pending} requests in flight", code="too_many_pending")
        if timeout <= 0:
            raise LocalError(f"timeout must be positive, not {timeout}", code="bad_timeout")
        msg_id = self._next
        while msg_id in self._pending or msg_id in self._late:
            msg_id = msg_id % MAX_MSG_ID + 1
        self._next = msg_id % MAX_MSG_ID + 1
        self._seq += 1
        p = Pending(peer_id, msg_id, code, now, now + timeout, req_id, expect)
        self._pending[msg_id] = (p, self._seq)
        self._by_peer.setdefault(peer_id, set()).add(msg_id)
        heapq.heappush(self._deadlines, (p.deadline, self._seq, msg_id))
        if len(self._deadlines) > 4 * len(self._pending) + 1024:
            # answered requests leave their deadlines behind: compact now and then
            self._deadlines = [(q.deadline, s, i) for i, (q, s) in self._pending.items()]
            heapq.heapify(self._deadlines)
        return msg_id

    def resolve(
        self, peer_id: bytes, msg_id: int, now: float, code: int | None = None
    ) -> Resolution:
        self._prune_late(now)
        entry = self._pending.get(msg_id)
        if entry is not None:
            p = entry[0]
            if p.peer_id != peer_id:
                return Unsolicited(peer_id, msg_id, "wrong_peer")
            if code is not None and p.expect is not None and code != p.expect:
                return Unsolicited(peer_id, msg_id, "wrong_code")
            self._remove(p)
            return p
        late = self._late.get(msg_id)
        if late is not None and late[0] == peer_id:
            del self._late[msg_id]  # a second answer to it would be unsolicited
            return Late(peer_id, msg_id, late[1])
        return Unsolicited(peer_id, msg_id, "wrong_peer" if late else "unknown_msg_id")

    def expire(self, now: float) -> list[Pending]:
        """Requests whose deadline passed, oldest first; their answers will be Late."""
        out = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, seq, msg_id = heapq.heappop(heap)
            entry = self._pending.get(msg_id)
            if entry is None or entry[1] != seq:
                continue  # answered or dropped already
            p = entry[0]
            self._remove(p)
            out.append(p)
        self._remember_late(out, now)
        self._prune_late(now)
        return out

    def drop_peer(self, peer_id: bytes, now: float) -> list[Pending]:
        """A peer's link went away: its requests fail (`peer_disconnected`), oldest first.

        They are remembered as late: the peer may be back at once on another link (two
        crossing dials, one closed as a duplicate) and answer there, in good faith.
        """
        ids = self._by_peer.pop(peer_id, set())
        out = sorted((self._pending.pop(i)[0] for i in ids), key=lambda p: (p.sent_at, p.msg_id))
        self._remember_late(out, now)
        return out

    def _remember_late(self, ended: list[Pending], now: float) -> None:
        """Answers to these may still come, for `late_memory_s` (the oldest go first)."""
        for p in ended:
            self._late[p.msg_id] = (p.peer_id, p.code, now + self.late_memory_s)
        while len(self._late) > self.max_late:
            self._late.popitem(last=False)

    def next_deadline(self) -> float | None:
        """When `expire()` next has work, for the caller's timer."""
        heap = self._deadlines
        while heap:
            deadline, seq, msg_id = heap[0]
            entry = self._pending.get(msg_id)
            if entry is not None and entry[1] == seq:
                return deadline
            heapq.heappop(heap)  # answered or dropped already
        return None

    def in_flight(self, peer_id: bytes, code: int | None = None) -> int:
        ids = self._by_peer.get(peer_id, ())
        if code is None:
            return len(ids)
        return sum(1 for i in ids if self._pending[i][0].code == code)

    def __len__(self) -> int:
        return len(self._pending)

    def _remove(self, p: Pending) -> None:
        del self._pending[p.msg_id]
        ids = self._by_peer.get(p.peer_id)
        if ids is not None:
            ids.discard(p.msg_id)
            if not ids:
                del self._by_peer[p.peer_id]

    def _prune_late(self, now: float) -> None:
        late = self._late
        while late and next(iter(late.values()))[2] <= now:
            late.popitem(last=False)
