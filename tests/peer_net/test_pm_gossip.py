from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from agora.peer_net.gossip import Gossip, MarshalledPacket, SeenCache, gossip_key

T0 = 1000.0
CODE = 16


def test_seen_cache_records_once_and_expires() -> None:
    c = SeenCache(max_items=10, ttl_s=60.0)
    k = gossip_key(b"tx")
    assert not c.seen(k, T0)
    assert c.seen(k, T0 + 1)
    assert c.seen(k, T0 + 59.9)  # a repeat does not extend the TTL
    assert not c.seen(k, T0 + 60)  # expired: new again
    assert c.seen(k, T0 + 61)


def test_seen_cache_is_bounded_oldest_first() -> None:
    # two generations of max_items / 2: the older one goes whole when the newer is full
    c = SeenCache(max_items=4, ttl_s=1e9)
    keys = [gossip_key(bytes([i])) for i in range(5)]
    for i, k in enumerate(keys):
        assert not c.seen(k, T0 + i)
    assert len(c) == 3
    assert keys[0] not in c and keys[1] not in c
    assert all(k in c for k in keys[2:]) and all(c.seen(k, T0 + 9) for k in keys[2:])
    assert not c.seen(keys[0], T0 + 10)  # evicted, so new again


@settings(max_examples=50, deadline=None)
@given(max_items=st.integers(2, 40), n=st.integers(0, 200))
def test_seen_cache_never_holds_more_and_always_knows_the_newest_half(
    max_items: int, n: int
) -> None:
    c = SeenCache(max_items=max_items, ttl_s=1e9)
    keys = [gossip_key(b"%d" % i) for i in range(n)]
    for i, k in enumerate(keys):
        assert not c.seen(k, T0)
        assert len(c) <= max_items
        newest = keys[max(0, i + 1 - max_items // 2) : i + 1]
        assert all(k in c for k in newest)


def test_have_sets_are_bounded_per_peer() -> None:
    g = Gossip(per_peer=4)
    peer = b"p" * 32
    for i in range(10):
        assert g.receive(peer, CODE, b"%d" % i, T0)
    assert [g.has(peer, gossip_key(b"%d" % i)) for i in range(10)] == [False] * 6 + [True] * 4
    p = g.outbound(CODE, b"3", T0)  # the peer's note of item 3 has gone: it may get it again
    assert g.fanout(p, [peer]) == [peer] and g.fanout(p, [peer]) == []


def test_expired_entries_are_dropped_on_the_next_call() -> None:
    c = SeenCache(max_items=100, ttl_s=10.0)
    for i in range(50):
        c.seen(gossip_key(bytes([i])), T0)
    c.seen(gossip_key(b"later"), T0 + 10)
    assert len(c) == 1


def test_marshalled_once_and_not_sent_back_to_the_sender() -> None:
    g = Gossip()
    a, b, c, d = (bytes([i]) * 32 for i in range(4))
    assert g.receive(a, CODE, b"vote", T0)
    assert not g.receive(b, CODE, b"vote", T0)  # b's copy: a duplicate, but b has it now
    p = g.outbound(CODE, b"vote", T0)
    assert p == MarshalledPacket(CODE, b"vote", gossip_key(b"vote"), True)
    assert g.fanout(p, [a, b, c, d], exclude=a) == [c, d]
    assert g.fanout(p, [a, b, c, d]) == []  # relayed once
    assert not g.receive(c, CODE, b"vote", T0)  # an echo is dropped
    g.forget_peer(c)
    assert not g.has(c, p.key) and g.has(d, p.key)


def test_own_broadcast_echo_is_dropped() -> None:
    g = Gossip()
    p = g.outbound(CODE, b"mine", T0)
    assert g.fanout(p, [b"x"]) == [b"x"]
    assert not g.receive(b"x", CODE, b"mine", T0 + 1)


def _flood(edges: set[tuple[int, int]], n: int, origin: int) -> tuple[list[int], int]:
    """Run gossip over a graph in memory; return deliveries per node and packets sent."""
    nodes = [Gossip(SeenCache(ttl_s=1e9)) for _ in range(n)]
    ids = [bytes([i]) * 32 for i in range(n)]
    nbrs = {i: [ids[j] for j in range(n) if (i, j) in edges or (j, i) in edges] for i in range(n)}
    delivered = [0] * n
    sent = 0
    queue: deque[tuple[int, int, MarshalledPacket]] = deque()
    body = b"post #1"
    delivered[origin] += 1
    p = nodes[origin].outbound(CODE, body, T0)
    for peer in nodes[origin].fanout(p, nbrs[origin]):
        queue.append((origin, peer[0], p))
    while queue and sent < 10_000:
        src, dst, pkt = queue.popleft()
        sent += 1
        g = nodes[dst]
        if g.receive(ids[src], pkt.code, pkt.body, T0):
            delivered[dst] += 1  # the actor checks it, then asks for a broadcast
            out = g.outbound(pkt.code, pkt.body, T0)
            assert out.key == pkt.key
            for peer in g.fanout(out, nbrs[dst], exclude=ids[src]):
                queue.append((dst, peer[0], out))
    return delivered, sent


def test_item_reaches_every_node_exactly_once_on_a_ring_with_chords() -> None:
    n = 8
    edges = {(i, (i + 1) % n) for i in range(n)} | {(0, 4), (2, 6)}
    delivered, sent = _flood(edges, n, origin=3)
    assert delivered == [1] * n
    assert sent <= 2 * len(edges)  # each edge carries it at most once each way


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 12).flatmap(
        lambda n: st.tuples(
            st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)))
        )
    )
)
def test_gossip_on_random_connected_graphs(case: tuple[int, set[tuple[int, int]]]) -> None:
    n, extra = case
    edges = {(i, i + 1) for i in range(n - 1)} | {(a, b) for a, b in extra if a != b}
    delivered, sent = _flood(edges, n, origin=0)
    assert delivered == [1] * n
    undirected = {tuple(sorted(e)) for e in edges}
    assert sent <= 2 * len(undirected)
