import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import LocalError
from agora.peer_net.requests import MAX_MSG_ID, Late, Pending, RequestTracker, Unsolicited

T0 = 50.0
A, B = b"\x0a" * 32, b"\x0b" * 32
REQ, RES = 20, 21


def test_response_resolves_its_request() -> None:
    t = RequestTracker()
    m = t.new(A, REQ, T0, 5.0, req_id=7, expect=RES)
    assert m == 1 and t.in_flight(A) == 1 and t.in_flight(A, REQ) == 1 and t.in_flight(A, 99) == 0
    r = t.resolve(A, m, T0 + 1, RES)
    assert r == Pending(A, m, REQ, T0, T0 + 5, req_id=7, expect=RES)
    assert len(t) == 0 and t.in_flight(A) == 0
    second = t.resolve(A, m, T0 + 1, RES)  # a second answer is unsolicited
    assert isinstance(second, Unsolicited) and second.reason == "unknown_msg_id"
    err = second.error()
    assert (err.code, err.penalty) == ("unsolicited_response", 100)


def test_unsolicited_wrong_peer_and_wrong_code_keep_the_request_waiting() -> None:
    t = RequestTracker()
    m = t.new(A, REQ, T0, 5.0, expect=RES)
    r = t.resolve(B, m, T0)
    assert isinstance(r, Unsolicited) and r.reason == "wrong_peer"
    r = t.resolve(A, m, T0, code=REQ)
    assert isinstance(r, Unsolicited) and r.reason == "wrong_code"
    assert isinstance(t.resolve(A, m, T0, code=RES), Pending)
    r = t.resolve(A, 12345, T0)
    assert isinstance(r, Unsolicited) and r.reason == "unknown_msg_id"


def test_timeout_then_late_response_is_not_misbehaviour() -> None:
    t = RequestTracker(late_memory_s=30.0)
    m1 = t.new(A, REQ, T0, 5.0, req_id=1)
    m2 = t.new(A, REQ, T0 + 1, 5.0, req_id=2)
    assert t.next_deadline() == T0 + 5
    assert t.expire(T0 + 4.9) == []
    expired = t.expire(T0 + 5)
    assert [p.req_id for p in expired] == [1]
    assert t.next_deadline() == T0 + 6
    assert t.resolve(A, m1, T0 + 10) == Late(A, m1, REQ)
    assert isinstance(t.resolve(A, m1, T0 + 10), Unsolicited)  # only once
    [p2] = t.expire(T0 + 6)
    assert p2.msg_id == m2
    assert isinstance(t.resolve(B, m2, T0 + 7), Unsolicited)  # late, but from someone else
    assert isinstance(t.resolve(A, m2, T0 + 6 + 30), Unsolicited)  # remembered no longer
    assert t.next_deadline() is None


def test_answered_requests_do_not_time_out() -> None:
    t = RequestTracker()
    m = t.new(A, REQ, T0, 1.0)
    t.resolve(A, m, T0)
    assert t.expire(T0 + 10) == []
    assert t.next_deadline() is None


def test_disconnect_fails_all_of_a_peers_requests() -> None:
    t = RequestTracker()
    a1 = t.new(A, REQ, T0, 5.0, req_id=1)
    b1 = t.new(B, REQ, T0, 5.0, req_id=2)
    a2 = t.new(A, REQ, T0 + 1, 5.0, req_id=3)
    failed = t.drop_peer(A, T0 + 2)
    assert [(p.msg_id, p.req_id) for p in failed] == [(a1, 1), (a2, 3)]
    assert len(t) == 1 and t.drop_peer(A, T0 + 2) == []
    assert [p.msg_id for p in t.expire(T0 + 100)] == [b1]  # A's deadlines left no trace


def test_an_answer_after_the_link_dropped_is_late_not_unsolicited() -> None:
    """Two links to one node cross and one is closed as a duplicate: a request sent on
    it is answered on the other. That is a late answer from an honest peer."""
    t = RequestTracker(late_memory_s=30.0)
    m = t.new(A, REQ, T0, 5.0)
    assert [p.msg_id for p in t.drop_peer(A, T0 + 1)] == [m]
    assert isinstance(t.resolve(A, m, T0 + 2, RES), Late)
    assert isinstance(t.resolve(A, m, T0 + 3, RES), Unsolicited)  # but only once
    assert isinstance(t.resolve(B, t.new(A, REQ, T0, 5.0), T0 + 4), Unsolicited)
    gone = t.new(A, REQ, T0 + 5, 5.0)
    t.drop_peer(A, T0 + 5)
    assert isinstance(t.resolve(A, gone, T0 + 36, RES), Unsolicited)  # long forgotten


def test_msg_ids_wrap_skipping_zero_and_ids_in_use() -> None:
    t = RequestTracker(late_memory_s=100.0)
    t._next = MAX_MSG_ID - 1
    m1 = t.new(A, REQ, T0, 1.0)
    m2 = t.new(A, REQ, T0, 1.0)
    m3 = t.new(A, REQ, T0, 1.0)
    assert (m1, m2, m3) == (MAX_MSG_ID - 1, MAX_MSG_ID, 1)
    t.expire(T0 + 1)  # all three are now remembered as late
    t._next = MAX_MSG_ID - 1
    assert t.new(A, REQ, T0 + 2, 1.0) == 2  # skips the late ones and 0


def test_misuse_is_local() -> None:
    t = RequestTracker(max_pending=2)
    with pytest.raises(LocalError):
        t.new(A, REQ, T0, 0)
    t.new(A, REQ, T0, 1)
    t.new(A, REQ, T0, 1)
    with pytest.raises(LocalError) as e:
        t.new(A, REQ, T0, 1)
    assert e.value.code == "too_many_pending"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["new", "resolve", "expire", "drop"]), st.integers(0, 2)),
        max_size=60,
    )
)
def test_every_request_ends_exactly_once(ops: list[tuple[str, int]]) -> None:
    t = RequestTracker(late_memory_s=3.0)
    peers = [A, B, b"\x0c" * 32]
    now, issued, ended = T0, [], set()
    for op, arg in ops:
        now += 1
        if op == "new":
            issued.append(t.new(peers[arg], REQ, now, 2.0 + arg))
        elif op == "resolve" and issued:
            m = issued[arg % len(issued)]
            r = t.resolve(peers[arg], m, now)
            if isinstance(r, Pending):
                assert m not in ended
                ended.add(m)
        elif op == "expire":
            for p in t.expire(now):
                assert p.msg_id not in ended
                ended.add(p.msg_id)
        elif op == "drop":
            for p in t.drop_peer(peers[arg], now):
                assert p.msg_id not in ended
                ended.add(p.msg_id)
        assert len(set(issued)) == len(issued) and len(t) + len(ended) == len(issued)
    for p in t.expire(now + 100):
        ended.add(p.msg_id)
    assert len(t) == 0
    assert ended == set(issued)
