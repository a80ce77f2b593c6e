import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.errors import LocalError, RemoteError
from agora.peer_net.bans import OFFENCE_MEMORY_S, BanList
from agora.peer_net.peers import INSTANT_BAN, PeerLimits, Peers

T0 = 1_700_000_000.0
A, B, C, D = (bytes([i]) * 32 for i in range(1, 5))


def _peers(tmp_path: Path | None = None, **kw: object) -> Peers:
    limits = PeerLimits(**kw)  # type: ignore[arg-type]
    return Peers(limits, tmp_path / "bans.json" if tmp_path else None, T0)


def test_slots_are_separate_for_inbound_and_outbound() -> None:
    p = _peers(max_inbound=2, max_outbound=1)
    p.add_peer(A, "192.0.2.1:1", True, T0)
    p.add_peer(B, "192.0.2.2:1", True, T0)
    with pytest.raises(RemoteError) as e:
        p.add_peer(C, "192.0.2.3:1", True, T0)
    assert e.value.code == "too_many_inbound"
    assert not p.allow_inbound("192.0.2.3", T0)
    p.add_peer(C, "192.0.2.3:1", False, T0)  # outbound has its own slot
    assert p.free_outbound() == 0
    with pytest.raises(RemoteError) as e:
        p.add_peer(D, "192.0.2.4:1", False, T0)
    assert e.value.code == "too_many_outbound"
    assert (p.inbound_count, p.outbound_count) == (2, 1)
    removed = p.remove_peer(A, "test")
    assert removed is not None and removed.addr == "192.0.2.1:1"
    assert p.remove_peer(A, "again") is None
    assert p.allow_inbound("192.0.2.3", T0)
    p.add_peer(D, "192.0.2.4:1", True, T0 + 1)
    assert [c.peer_id for c in p.peers(T0 + 1)] == [B, C, D]


def test_duplicate_peer_is_refused() -> None:
    p = _peers()
    p.add_peer(A, "192.0.2.1:1", True, T0)
    with pytest.raises(RemoteError) as e:
        p.add_peer(A, "192.0.2.1:2", False, T0)
    assert e.value.code == "duplicate_peer"
    assert p.outbound_count == 0


def test_violation_bans_at_once_by_id_and_ip() -> None:
    p = _peers()
    p.add_peer(A, "203.0.113.5:4000", True, T0)
    v = p.record_behaviour(A, "bad_tag", INSTANT_BAN, T0)
    assert v.banned and v.ban is not None
    assert v.ban.reason == "bad_tag" and v.ban.until == T0 + 600
    assert p.is_banned(A, now=T0 + 1)
    assert p.is_banned(ip="203.0.113.5", now=T0 + 1)  # a new node id from that IP too
    assert not p.allow_inbound("203.0.113.5", T0 + 1)
    with pytest.raises(RemoteError) as e:
        p.add_peer(B, "203.0.113.5:4001", True, T0 + 1)
    assert e.value.code == "peer_banned"
    assert not p.is_banned(A, now=T0 + 600)  # expired
    assert not p.is_banned(ip="203.0.113.5", now=T0 + 600)


def test_loopback_is_banned_by_node_id_only() -> None:
    p = _peers()
    p.add_peer(A, "127.0.0.1:4000", True, T0)
    p.add_peer(B, "[::1]:4000", True, T0)
    assert p.record_behaviour(A, "bad_tag", INSTANT_BAN, T0).banned
    assert p.record_behaviour(B, "bad_tag", INSTANT_BAN, T0).banned
    assert p.is_banned(A, now=T0) and p.is_banned(B, now=T0)
    assert not p.is_banned(ip="127.0.0.1", now=T0)
    assert not p.is_banned(ip="::1", now=T0)
    p.add_peer(C, "127.0.0.1:4001", True, T0)  # the rest of the devnet still gets in
    # without a node id there is nothing to ban on loopback: just a score
    v = p.record_behaviour(None, "garbage", INSTANT_BAN, T0, ip="127.0.0.1")
    assert not v.banned
    q = _peers(ban_loopback_ips=True)
    assert q.record_behaviour(None, "garbage", INSTANT_BAN, T0, ip="127.0.0.1").banned
    assert q.is_banned(ip="127.0.0.1", now=T0)


def test_score_decays_with_half_life_and_bans_at_threshold() -> None:
    p = _peers(score_half_life_s=100.0, ban_threshold=100.0)
    p.add_peer(A, "198.51.100.1:1", False, T0)
    assert p.record_behaviour(A, "slow", 40, T0).score == pytest.approx(40)
    assert p.score(A, T0 + 100) == pytest.approx(20)
    assert p.record_behaviour(A, "slow", 40, T0 + 100).score == pytest.approx(60)
    assert p.peers(T0 + 200)[0].score == pytest.approx(30)
    v = p.record_behaviour(A, "slow", 40, T0 + 100)
    assert v.banned and v.score == pytest.approx(100)
    assert p.score(A, T0 + 100) == 0  # the ban is the punishment; the score starts over
    # once banned, further penalties change nothing
    again = p.record_behaviour(A, "slow", 40, T0 + 101)
    assert again.ban == v.ban


def test_repeat_offenders_get_longer_bans_up_to_the_cap() -> None:
    p = _peers(ban_seconds=10.0, max_ban_seconds=35.0)
    now = T0
    lengths = []
    for _ in range(4):
        v = p.record_behaviour(A, "bad_tag", INSTANT_BAN, now)
        assert v.ban is not None
        lengths.append(v.ban.until - v.ban.since)
        now = v.ban.until + 1
    assert lengths == [10, 20, 35, 35]
    later = now + OFFENCE_MEMORY_S
    v = p.record_behaviour(A, "bad_tag", INSTANT_BAN, later)
    assert v.ban is not None and v.ban.until - later == 10  # forgiven after a day


def test_bans_survive_a_restart_and_expired_ones_are_dropped(tmp_path: Path) -> None:
    p = _peers(tmp_path, ban_seconds=100.0)
    p.add_peer(A, "203.0.113.9:1", True, T0)
    p.record_behaviour(A, "nonce_replay", INSTANT_BAN, T0)
    p.ban(B, None, "operator", 1000.0, T0)
    p.ban(C, "198.51.100.7", "operator", 5.0, T0)
    q = _peers(tmp_path, ban_seconds=100.0)
    assert q.is_banned(A, now=T0 + 50)
    assert q.is_banned(ip="203.0.113.9", now=T0 + 50)
    assert q.is_banned(C, now=T0 + 1)
    r = _peers(tmp_path, ban_seconds=100.0)
    # a restart after A's ban ended: dropped; B's still holds; the offence is remembered
    r2 = Peers(r.limits, tmp_path / "bans.json", T0 + 200)
    assert not r2.is_banned(A, now=T0 + 200)
    assert r2.is_banned(B, now=T0 + 200)
    assert [b.peer_id for b in r2.bans.bans(T0 + 200)] == [B]
    v = r2.record_behaviour(A, "bad_tag", INSTANT_BAN, T0 + 200)
    assert v.ban is not None and v.ban.until - v.ban.since == 200  # second offence: doubled
    doc = json.loads((tmp_path / "bans.json").read_text())
    assert doc["version"] == 1 and len(doc["bans"]) == 2


def test_api_misuse_is_a_local_error() -> None:
    p = _peers()
    with pytest.raises(LocalError):
        p.record_behaviour(A, "x", -1, T0)
    with pytest.raises(LocalError):
        p.record_behaviour(None, "x", 1, T0)
    with pytest.raises(LocalError):
        p.ban(A, None, "x", 0, T0)


def test_corrupt_ban_file_starts_empty_and_is_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "bans.json"
    f.write_bytes(b'{"version": 1, "bans": [{"reason": 3}]')
    with caplog.at_level(logging.WARNING):
        bl = BanList(f, T0)
    assert bl.bans(T0) == []
    assert (tmp_path / "bans.json.corrupt").exists()
    assert any(r.getMessage() == "state_file_corrupt" for r in caplog.records)
    bl.ban(A, None, "x", 10, T0)
    assert BanList(f, T0).lookup(A, None, T0) is not None


def test_unreadable_ban_file_is_a_local_error(tmp_path: Path) -> None:
    (tmp_path / "bans.json").mkdir()
    with pytest.raises(LocalError) as e:
        BanList(tmp_path / "bans.json", T0)
    assert e.value.code == "state_unreadable"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_ban_file_loads_or_starts_empty(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    d = tmp_path_factory.mktemp("bans")
    (d / "bans.json").write_bytes(data)
    bl = BanList(d / "bans.json", T0)
    assert isinstance(bl.bans(T0), list)


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "version": st.integers(0, 2),
            "bans": st.lists(
                st.fixed_dictionaries(
                    {
                        "reason": st.text(max_size=5),
                        "since": st.floats(allow_nan=False),
                        "until": st.floats(allow_nan=False),
                        "peer_id": st.none() | st.sampled_from(["AQID", "!!", ""]),
                        "ip": st.none() | st.text(max_size=8),
                    }
                ),
                max_size=3,
            ),
            "offences": st.lists(
                st.fixed_dictionaries(
                    {"key": st.text(max_size=5), "count": st.integers(-3, 3), "last": st.floats()}
                ),
                max_size=3,
            ),
        }
    )
)
def test_structured_but_odd_ban_files_never_crash(
    tmp_path_factory: pytest.TempPathFactory, doc: dict[str, object]
) -> None:
    d = tmp_path_factory.mktemp("bans")
    (d / "bans.json").write_text(json.dumps(doc))
    bl = BanList(d / "bans.json", T0)
    for b in bl.bans(T0):
        assert b.until > T0
    bl.ban(A, "192.0.2.1", "x", 10, T0)
    assert BanList(d / "bans.json", T0).lookup(None, "192.0.2.1", T0) is not None


def test_an_operator_lifts_bans_by_id_prefix_or_ip_and_the_offences_with_them(
    tmp_path: Path,
) -> None:
    bl = BanList(tmp_path / "bans.json", T0)
    bl.ban(A, "203.0.113.9", "nonce_replay", 100.0, T0)
    bl.ban(B, None, "operator", 100.0, T0)
    bl.ban(None, "198.51.100.7", "operator", 100.0, T0)
    lifted = bl.lift(A.hex()[:12], T0 + 1)  # a node id prefix, as `agora status` shows it
    assert [(b.peer_id, b.ip) for b in lifted] == [(A, "203.0.113.9")]
    assert bl.lookup(A, None, T0 + 1) is None and bl.lookup(None, "203.0.113.9", T0 + 1) is None
    assert bl.offences(A, "203.0.113.9", T0 + 1) == 0  # a fresh start, not a doubled ban
    assert [b.ip for b in bl.lift("198.51.100.7", T0 + 1)] == ["198.51.100.7"]
    with pytest.raises(LocalError) as e:
        bl.lift("ab", T0 + 1)  # too short to name one node
    assert e.value.code == "bad_ban_target"
    assert bl.lift("0" * 64, T0 + 1) == []
    again = BanList(tmp_path / "bans.json", T0 + 2)  # saved at once
    assert [b.peer_id for b in again.bans(T0 + 2)] == [B]
    assert len(again.lift(None, T0 + 2)) == 1 and again.bans(T0 + 2) == []
    again.ban(A, "203.0.113.5", "operator", 100.0, T0 + 2)  # two nodes behind one address
    again.ban(B, "203.0.113.5", "operator", 100.0, T0 + 2)
    assert {b.peer_id for b in again.lift("203.0.113.5", T0 + 3)} == {A, B}
