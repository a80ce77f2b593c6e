"""The core's rules, one at a time, with the other validators played by the test."""

from __future__ import annotations

import itertools
from pathlib import Path

import nacl.signing
import pytest

from agora.blockchain.votes import (
    NIL,
    Validator,
    ValidatorSet,
    Vote,
    VoteType,
    make_commit,
    sign_vote,
)
from agora.codec import sha256
from agora.consensus_client import actions as act
from agora.consensus_client.core import Core
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import Proposal, Step, Timeout, VoteMsg, sign_proposal
from agora.consensus_client.wal_crash_child import Driver
from agora.errors import LocalError, RemoteError

CHAIN = "agora-core-test"
KEYS = [nacl.signing.SigningKey(sha256(b"core-test-%d" % i)) for i in range(4)]
VALSET = ValidatorSet(Validator(bytes(k.verify_key), 1) for k in KEYS)
PARAMS = ConsensusParams(block_interval_ms=1000)
PV, PC = VoteType.PREVOTE, VoteType.PRECOMMIT
STRANGER = nacl.signing.SigningKey(bytes(32))


def key_of(pub: bytes) -> nacl.signing.SigningKey:
    return next(k for k in KEYS if bytes(k.verify_key) == pub)


def make_core(i: int | None = 0, height: int = 1, **kw: object) -> Core:
    key = KEYS[i] if i is not None else None
    return Core(CHAIN, VALSET, key, height, PARAMS, None, sha256, 0, **kw)  # type: ignore[arg-type]


def proposal(core: Core, round: int, block: bytes, pol: int = -1, height: int = 0) -> Proposal:
    h = height or core.height
    key = key_of(core.proposers.proposer(h, round))
    return sign_proposal(key, CHAIN, h, round, pol, sha256(block), block)


def vote(i: int, round: int, type: VoteType, block_id: bytes, height: int = 1) -> Vote:
    return sign_vote(KEYS[i], CHAIN, height, round, type, block_id)


def others(core: Core) -> list[int]:
    return [i for i, k in enumerate(KEYS) if bytes(k.verify_key) != core.me]


def sent_votes(actions: list[act.Action], core: Core) -> list[Vote]:
    return [
        a.msg.vote
        for a in actions
        if isinstance(a, act.Broadcast)
        and isinstance(a.msg, VoteMsg)
        and a.msg.vote.validator == core.me
    ]


def of(actions: list[act.Action], kind: type) -> list:  # type: ignore[type-arg]
    return [a for a in actions if isinstance(a, kind)]


def non_proposer(round: int = 0, height: int = 1) -> Core:
    """A validator that does not propose in (height, round), started."""
    probe = make_core(0)
    proposer = probe.proposers.proposer(height, round)
    i = next(i for i, k in enumerate(KEYS) if bytes(k.verify_key) != proposer)
    core = make_core(i, height)
    core.start(0)
    return core


def feed_proposal(core: Core, p: Proposal, valid: bool = True) -> list[act.Action]:
    out = core.on_proposal(p, 10)
    checks = of(out, act.CheckBlock)
    if checks:
        out += core.on_block_checked(p.height, p.round, p.block_id, valid, 11)
    return out


# -- the happy path, with four cores wired to each other ---------------------------


class Wire:
    """Four cores, messages delivered at once, the app answering at once."""

    def __init__(self, cores: list[Core]) -> None:
        self.cores = cores
        self.now = 0
        self.timers: list[tuple[int, int, Timeout]] = []
        self.committed: list[dict[int, bytes]] = [{} for _ in cores]
        self.commit_times: list[int] = []
        self.queue: list[tuple[int, act.Action]] = []

    def start(self) -> None:
        for i, c in enumerate(self.cores):
            self.queue += [(i, a) for a in c.start(0)]
        self.drain()

    def drain(self) -> None:
        while self.queue:
            i, a = self.queue.pop(0)
            c = self.cores[i]
            out: list[act.Action] = []
            if isinstance(a, act.Broadcast):
                for j, other in enumerate(self.cores):
                    if j != i:
                        m = a.msg
                        got = (
                            other.on_proposal(m, self.now)
                            if isinstance(m, Proposal)
                            else other.on_vote(m.vote, self.now)  # type: ignore[union-attr]
                        )
                        self.queue += [(j, x) for x in got]
            elif isinstance(a, act.ScheduleTimeout):
                self.timers.append((self.now + a.delay_ms, i, a.timeout))
            elif isinstance(a, act.BuildBlock):
                block = b"block %d %d by %d" % (a.height, a.round, i)
                out = c.on_block_built(a.height, a.round, block, self.now)
            elif isinstance(a, act.CheckBlock):
                out = c.on_block_checked(a.height, a.round, a.block_id, True, self.now)
            elif isinstance(a, act.CommitBlock):
                a.commit.verify(CHAIN, VALSET)
                assert sha256(a.block) == a.commit.block_id
                self.committed[i][a.height] = a.commit.block_id
                self.commit_times.append(self.now)
                out = c.on_committed(a.height, VALSET, self.now)
            self.queue += [(i, x) for x in out]

    def run_until(self, t_end: int) -> None:
        for _ in range(100_000):
            self.drain()
            if not self.timers:
                return
            self.timers.sort(key=lambda x: x[0])
            at, i, t = self.timers.pop(0)
            if at > t_end:
                return
            self.now = at
            self.queue += [(i, x) for x in self.cores[i].on_timeout(t, at)]


def test_happy_path_four_cores_commit_the_same_blocks_once_a_second() -> None:
    w = Wire([make_core(i) for i in range(4)])
    w.start()
    w.run_until(5_500)
    heights = [len(c) for c in w.committed]
    assert heights[0] >= 5 and len(set(heights)) == 1
    assert all(c == w.committed[0] for c in w.committed)
    assert all(c.round == 0 for c in w.cores)  # every height decided in round 0
    # One block a block interval: the heights start 1000 ms apart.
    starts = sorted(set(w.commit_times))
    assert starts[1] - starts[0] == PARAMS.block_interval_ms


def test_proposer_builds_signs_and_prevotes_its_own_block() -> None:
    core = make_core(0)
    out = core.start(0)
    pub = core.proposers.proposer(1, 0)
    if pub != core.me:
        core = make_core(next(i for i, k in enumerate(KEYS) if bytes(k.verify_key) == pub))
        out = core.start(0)
    (build,) = of(out, act.BuildBlock)
    assert (build.height, build.round, build.last_commit) == (1, 0, None)
    out = core.on_block_built(1, 0, b"my block", 5)
    kinds = [type(a).__name__ for a in out if not isinstance(a, act.ScheduleTimeout)]
    # Each signed message is persisted before it is broadcast.
    assert kinds == ["PersistSigned", "Broadcast", "PersistSigned", "Broadcast"]
    assert [v.block_id for v in sent_votes(out, core)] == [sha256(b"my block")]
    assert core.step == Step.PREVOTE


# -- locking --------------------------------------------------------------------


def _lock_on(core: Core, block: bytes) -> None:
    """Round 0: `block` gets +2/3 prevotes; the core locks on it and precommits it."""
    out = feed_proposal(core, proposal(core, 0, block))
    assert [v.block_id for v in sent_votes(out, core)] == [sha256(block)]
    out = []
    for i in others(core)[:2]:
        out += core.on_vote(vote(i, 0, PV, sha256(block)), 20)
    assert [(v.type, v.block_id) for v in sent_votes(out, core)] == [(PC, sha256(block))]
    assert (core.hs.locked_round, core.hs.locked_id) == (0, sha256(block))
    # Nobody else precommits it: after the precommit timeout, round 1.
    for i in others(core):
        core.on_vote(vote(i, 0, PC, NIL), 30)
    core.on_timeout(Timeout(1, 0, Step.PRECOMMIT), 40)
    assert core.round == 1


def test_locked_validator_prevotes_nil_for_another_block_without_a_pol() -> None:
    core = non_proposer(0)
    _lock_on(core, b"B")
    if core.proposers.proposer(1, 1) == core.me:
        pytest.skip("this key proposes round 1")  # the fixed keys make this not happen
    out = feed_proposal(core, proposal(core, 1, b"C"))
    assert [v.block_id for v in sent_votes(out, core)] == [NIL]


def test_locked_validator_prevotes_its_locked_block_again() -> None:
    core = non_proposer(0)
    _lock_on(core, b"B")
    out = feed_proposal(core, proposal(core, 1, b"B", pol=0))
    assert [v.block_id for v in sent_votes(out, core)] == [sha256(b"B")]


def test_a_later_pol_unlocks() -> None:
    core = non_proposer(0)
    _lock_on(core, b"B")
    # Round 1: the others prevote C (+2/3 without us): a POL for C in round 1.
    for i in others(core):
        core.on_vote(vote(i, 1, PV, sha256(b"C")), 60)
        core.on_vote(vote(i, 1, PC, NIL), 61)
    core.on_timeout(Timeout(1, 1, Step.PROPOSE), 62)
    core.on_timeout(Timeout(1, 1, Step.PRECOMMIT), 63)
    assert core.round == 2
    p = proposal(core, 2, b"C", pol=1)
    if p.proposer == core.me:
        pytest.skip("this key proposes round 2")
    out = feed_proposal(core, p)
    assert [v.block_id for v in sent_votes(out, core)] == [sha256(b"C")]


def test_pol_round_without_the_prevotes_is_not_enough() -> None:
    core = non_proposer(0)
    _lock_on(core, b"B")
    p = proposal(core, 1, b"C", pol=0)  # claims a POL for C in round 0: there was none
    out = feed_proposal(core, p)
    assert sent_votes(out, core) == []  # waits for the POL ...
    out = core.on_timeout(Timeout(1, 1, Step.PROPOSE), 90)
    assert [v.block_id for v in sent_votes(out, core)] == [NIL]  # ... then prevotes nil


# -- rounds and timeouts ------------------------------------------------------------


def test_round_skip_on_more_than_a_third_in_a_later_round() -> None:
    core = non_proposer(0)
    core.on_vote(vote(others(core)[0], 3, PV, NIL), 5)
    assert core.round == 0  # a quarter of the power is not enough
    core.on_vote(vote(others(core)[1], 3, PC, NIL), 6)
    assert core.round == 3
    assert core.step in (Step.PROPOSE, Step.PREVOTE)


def test_timeouts_grow_with_the_round() -> None:
    core = non_proposer(0)
    delays = []
    for r in range(4):
        out = core.on_timeout(Timeout(1, r, Step.PROPOSE), 100 * r)
        assert core.step == Step.PREVOTE
        for i in others(core):
            out += core.on_vote(vote(i, r, PV, NIL), 100 * r + 1)
            out += core.on_vote(vote(i, r, PC, NIL), 100 * r + 2)
        sched = {a.timeout.step: a.delay_ms for a in of(out, act.ScheduleTimeout)}
        delays.append((sched[Step.PREVOTE], sched[Step.PRECOMMIT]))
        out = core.on_timeout(Timeout(1, r, Step.PRECOMMIT), 100 * r + 3)
        propose = [a.delay_ms for a in of(out, act.ScheduleTimeout) if a.timeout.round == r + 1]
        delays[-1] += tuple(propose)
        assert core.round == r + 1
    assert all(a < b for a, b in itertools.pairwise(delays))
    assert delays[1] == (750, 750, 2000)


def test_stale_timeouts_do_nothing() -> None:
    core = non_proposer(0)
    assert core.on_timeout(Timeout(1, 5, Step.PROPOSE), 10) == []
    assert core.on_timeout(Timeout(7, 0, Step.PRECOMMIT), 10) == []
    assert core.step == Step.PROPOSE


# -- following, catching up ------------------------------------------------------------


def test_full_node_follows_and_never_signs() -> None:
    follower = make_core(None)
    w = Wire([make_core(i) for i in range(4)] + [follower])
    w.committed.append({})
    signed: list[act.Action] = []
    orig = follower.on_vote

    def spy(v: Vote, now: int, **kw: bool) -> list[act.Action]:
        out = orig(v, now, **kw)
        signed.extend(a for a in out if isinstance(a, act.PersistSigned))
        return out

    follower.on_vote = spy  # type: ignore[method-assign]
    w.start()
    w.run_until(3_500)
    assert len(w.committed[4]) >= 3
    assert w.committed[4] == {h: b for h, b in w.committed[0].items() if h in w.committed[4]}
    assert signed == [] and follower.me is None


def test_catch_up_through_on_decided() -> None:
    core = non_proposer(0)
    block = b"decided elsewhere"
    bid = sha256(block)
    commit = make_commit(vote(i, 2, PC, bid) for i in others(core))
    # Height 3 votes tell the core it is behind.
    out = core.on_vote(vote(others(core)[0], 0, PV, NIL, height=3), 5)
    assert of(out, act.CatchUp) == [act.CatchUp(1)]
    with pytest.raises(RemoteError) as e:
        core.on_decided(b"another block", commit, 6)
    assert e.value.code == "commit_mismatch"
    weak = make_commit(vote(i, 2, PC, bid) for i in others(core)[:2])
    with pytest.raises(RemoteError) as e:
        core.on_decided(block, weak, 6)
    assert e.value.code == "commit_without_quorum"
    out = core.on_decided(block, commit, 7)
    (done,) = of(out, act.CommitBlock)
    assert (done.height, done.block, done.commit) == (1, block, commit)
    assert core.step == Step.COMMIT
    core.on_committed(1, VALSET, 8)
    out = core.on_timeout(Timeout(1, 2, Step.COMMIT), 2000)
    assert core.height == 2
    assert of(out, act.CatchUp) == [act.CatchUp(2)]  # still behind: ask at once


def test_next_height_messages_are_held_and_replayed() -> None:
    core = non_proposer(0)
    block = b"h1"
    feed_proposal(core, proposal(core, 0, block))
    for i in others(core):
        core.on_vote(vote(i, 0, PV, sha256(block)), 10)
    # Height 2 prevotes arrive before this core has finished height 1.
    early = [vote(i, 0, PV, NIL, height=2) for i in others(core)]
    for v in early:
        # Held, and a hint that the others are ahead: the only action is a CatchUp.
        assert all(isinstance(a, act.CatchUp) for a in core.on_vote(v, 11))
    for i in others(core):
        core.on_vote(vote(i, 0, PC, sha256(block)), 12)
    assert core.step == Step.COMMIT
    core.on_committed(1, VALSET, 13)
    core.on_timeout(Timeout(1, 0, Step.COMMIT), 1000)
    assert core.height == 2
    assert core.hs.votes.has_quorum_any(0, PV)  # the held prevotes counted


# -- evidence and bad input --------------------------------------------------------------


def test_conflicting_votes_give_evidence_once() -> None:
    core = non_proposer(0)
    i = others(core)[0]
    a, b, c = (vote(i, 0, PV, x) for x in (sha256(b"x"), sha256(b"y"), NIL))
    assert of(core.on_vote(a, 1), act.EvidenceFound) == []
    (ev,) = of(core.on_vote(b, 2), act.EvidenceFound)
    ev.evidence.verify(CHAIN, VALSET)
    assert {ev.evidence.vote_a, ev.evidence.vote_b} == {a, b}
    assert of(core.on_vote(c, 3), act.EvidenceFound) == []
    assert of(core.on_vote(b, 4), act.EvidenceFound) == []


def test_conflicting_proposals_are_misbehaviour() -> None:
    core = non_proposer(0)
    p1, p2 = proposal(core, 0, b"one"), proposal(core, 0, b"two")
    feed_proposal(core, p1)
    out = core.on_proposal(p2, 5)
    assert of(out, act.Misbehaviour) == [act.Misbehaviour(p2.proposer, "conflicting_proposal")]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p, v: p.__class__(**{**_fields(p), "chain_id": "other"}), "wrong_chain"),
        (lambda p, v: p.__class__(**{**_fields(p), "signature": bytes(64)}), "bad_signature"),
        (lambda p, v: p.__class__(**{**_fields(p), "block": b"swapped"}), "bad_block_id"),
        (lambda p, v: p.__class__(**{**_fields(p), "pol_round": 0}), "bad_proposal"),
        (lambda p, v: v.__class__(**{**_fields(v), "signature": bytes(64)}), "bad_signature"),
        (lambda p, v: v.__class__(**{**_fields(v), "type": 9}), "bad_vote"),
        (lambda p, v: sign_vote(STRANGER, CHAIN, 1, 0, PV, NIL), "unknown_validator"),
    ],
)
def test_bad_input_is_a_remote_error(mutate, code) -> None:  # type: ignore[no-untyped-def]
    core = non_proposer(0)
    p = proposal(core, 0, b"fine")
    v = vote(others(core)[0], 0, PV, NIL)
    bad = mutate(p, v)
    with pytest.raises(RemoteError) as e:
        if isinstance(bad, Proposal):
            core.on_proposal(bad, 1)
        else:
            core.on_vote(bad, 1)
    assert e.value.code == code
    assert core.hs.votes.round_power(0) == 0 and core.hs.proposals == {}


def test_wrong_proposer_is_rejected() -> None:
    core = non_proposer(0)
    wrong = next(k for k in KEYS if bytes(k.verify_key) != core.proposers.proposer(1, 0))
    p = sign_proposal(wrong, CHAIN, 1, 0, -1, sha256(b"x"), b"x")
    with pytest.raises(RemoteError) as e:
        core.on_proposal(p, 1)
    assert e.value.code == "wrong_proposer"


def test_misuse_is_a_local_error() -> None:
    core = make_core(0)
    with pytest.raises(LocalError):
        core.on_timeout(Timeout(1, 0, Step.PROPOSE), 0)  # before start()
    core.start(0)
    with pytest.raises(LocalError) as e:
        core.on_committed(1, VALSET, 1)  # nothing was decided
    assert e.value.code == "unexpected_commit"


def _fields(s: object) -> dict[str, object]:
    return {f: getattr(s, f) for f in s.__struct_fields__}  # type: ignore[attr-defined]


# -- random traffic ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_random_traffic_never_double_signs_or_breaks(seed: int, tmp_path: Path) -> None:
    """The SIGKILL test's driver, in process: random proposals, votes, timeouts and app
    answers (some blocks invalid) from three other validators; the core must keep going."""
    driver = Driver(tmp_path, seed, use_wal=True)
    driver.run(max_steps=1500, quiet=True)
    slots: dict[tuple[int, int, int], str] = {}
    for h, r, kind, block_id, _sig in driver.signed:
        assert slots.setdefault((h, r, kind), block_id) == block_id
    assert len(slots) > 20
    assert driver.core.height > 1 or driver.core.round > 3  # it made progress


def test_far_future_messages_are_not_held_but_say_we_are_behind() -> None:
    core = non_proposer(0)
    out = core.on_vote(vote(others(core)[0], 0, PV, NIL, height=5), 1)
    assert of(out, act.CatchUp) == [act.CatchUp(1)]
    assert list(core._future) == []  # only the next height is held
    # Asked again only once per gossip period, on the gossip tick.
    assert of(core.on_vote(vote(others(core)[1], 0, PV, NIL, height=6), 2), act.CatchUp) == []
    out = core.on_timeout(Timeout(1, 0, Step.GOSSIP), PARAMS.gossip_ms + 1)
    assert of(out, act.CatchUp) == [act.CatchUp(1)]


def test_pre_verified_messages_skip_the_signature_check() -> None:
    core = non_proposer(0)
    v = vote(others(core)[0], 0, PV, NIL)
    forged = Vote(v.chain_id, v.height, v.round, v.type, v.block_id, v.validator, bytes(64))
    core.on_vote(forged, 1, verified=True)  # the shell vouched for it
    assert core.hs.votes.round_power(0) == 1


def test_decided_for_another_height_is_ignored() -> None:
    core = non_proposer(0)
    bid = sha256(b"b")
    commit = make_commit(vote(i, 0, PC, bid, height=2) for i in others(core))
    assert core.on_decided(b"b", commit, 1) == []
    assert core.height == 1 and core.step == Step.PROPOSE


def test_gossip_tick_resends_the_round() -> None:
    core = non_proposer(0)
    out = core.on_timeout(Timeout(1, 0, Step.PROPOSE), 1000)  # prevotes nil
    (mine,) = sent_votes(out, core)
    core.on_vote(vote(others(core)[0], 0, PV, NIL), 1001)
    out = core.on_timeout(Timeout(1, 0, Step.GOSSIP), 1500)
    again = [a.msg.vote for a in of(out, act.Broadcast) if isinstance(a.msg, VoteMsg)]
    assert mine in again and len(again) == 2  # ours and the one we hold from a peer
    assert [a.timeout for a in of(out, act.ScheduleTimeout)] == [Timeout(1, 0, Step.GOSSIP)]
