"""Discovery without sockets: peer sets and address books of several nodes, one bootstrap."""

import random
from dataclasses import dataclass, field

from agora.errors import RemoteError
from agora.peer_net.addrbook import AddrBook, Source
from agora.peer_net.peers import PeerLimits, Peers
from agora.peer_net.pex import decode_pex_response, encode_pex_response

T0 = 1_700_000_000.0


@dataclass
class Node:
    i: int
    peers: Peers
    book: AddrBook
    rng: random.Random
    listen_of: dict[bytes, str] = field(default_factory=dict)  # connected id -> listen addr

    @property
    def id(self) -> bytes:
        return bytes([self.i + 1]) * 32

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{7000 + self.i}"


def _network(n: int, max_outbound: int) -> list[Node]:
    nodes = []
    for i in range(n):
        limits = PeerLimits(max_inbound=n, max_outbound=max_outbound)
        peers = Peers(limits, None, T0)
        book = AddrBook(None, own_addrs=[f"127.0.0.1:{7000 + i}"])
        book.add_bootstrap(["127.0.0.1:7000"], T0)
        nodes.append(Node(i, peers, book, random.Random(i)))
    return nodes


def _connect(a: Node, b: Node, now: float) -> bool:
    try:
        b.peers.add_peer(a.id, f"127.0.0.1:{40000 + a.i}", True, now)
    except RemoteError:
        return False
    try:
        a.peers.add_peer(b.id, b.addr, False, now)
    except RemoteError:
        b.peers.remove_peer(a.id, "refused")
        return False
    a.listen_of[b.id] = b.addr
    b.listen_of[a.id] = a.addr
    b.book.add(a.addr, Source.INBOUND, now, node_id=a.id)  # its handshake's listen address
    return True


def _round(nodes: list[Node], now: float) -> None:
    by_addr = {n.addr: n for n in nodes}
    for a in nodes:
        connected = {p.peer_id for p in a.peers.peers(now)}
        picks = a.book.candidates(
            a.peers.free_outbound(),
            now,
            a.rng,
            exclude=set(a.listen_of.values()),
            exclude_ids=connected,
            banned=lambda nid, host, a=a: a.peers.is_banned(nid, host, now=now),
        )
        for addr in picks:
            a.book.mark_attempt(addr, now)
            b = by_addr[addr]
            if _connect(a, b, now):
                a.book.mark_success(addr, now, node_id=b.id)
            else:
                a.book.mark_failure(addr, now)
    for a in nodes:
        for p in a.peers.peers(now):
            b = nodes[p.peer_id[0] - 1]
            b_connected = {q.peer_id for q in b.peers.peers(now)}
            body = encode_pex_response(b.book.for_pex(64, connected=b_connected))
            a.book.add_from_pex(decode_pex_response(body), b.id, now)


def test_nodes_find_each_other_from_one_bootstrap_node() -> None:
    nodes = _network(5, max_outbound=4)
    for r in range(10):
        _round(nodes, T0 + 10 * r)
        if all(len(n.peers.peers(T0)) == 4 for n in nodes):
            break
    for n in nodes:
        ids = sorted(p.peer_id for p in n.peers.peers(T0))
        assert ids == sorted(m.id for m in nodes if m is not n)
        assert n.peers.outbound_count <= 4
        assert len(n.book) == 4  # everyone but itself


def test_outbound_limit_holds_and_the_graph_stays_connected() -> None:
    nodes = _network(8, max_outbound=2)
    for r in range(12):
        _round(nodes, T0 + 10 * r)
    seen, todo = {0}, [0]
    while todo:
        n = nodes[todo.pop()]
        for p in n.peers.peers(T0):
            j = p.peer_id[0] - 1
            if j not in seen:
                seen.add(j)
                todo.append(j)
    assert seen == set(range(8))
    assert all(n.peers.outbound_count <= 2 for n in nodes)
    assert all(len(n.book) == 7 for n in nodes)
