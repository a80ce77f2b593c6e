"""Proposer rotation: weighted round robin by proposer priority."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain.votes import Validator, ValidatorSet
from agora.consensus_client.proposer import ProposerSchedule


def _valset(powers: list[int]) -> ValidatorSet:
    return ValidatorSet(Validator(bytes([i + 1]) * 32, p) for i, p in enumerate(powers))


def _reference(vs: ValidatorSet, steps: int) -> list[bytes]:
    """The walk written out plainly: add power, pick the highest (smaller key on ties), pay."""
    prio = {v.pub_key: 0 for v in vs.validators}
    out = []
    for _ in range(steps):
        for v in vs.validators:
            prio[v.pub_key] += v.power
        best = max(vs.validators, key=lambda v: (prio[v.pub_key], [-b for b in v.pub_key]))
        prio[best.pub_key] -= vs.total_power
        out.append(best.pub_key)
    return out


def test_each_validator_proposes_in_proportion_to_its_power() -> None:
    vs = _valset([1, 2, 3, 4])
    ps = ProposerSchedule(vs)
    seq = [ps.proposer(h, 0) for h in range(1, 10 * vs.total_power + 1)]
    counts = Counter(seq)
    assert [counts[v.pub_key] for v in vs.validators] == [10, 20, 30, 40]


def test_known_sequence_for_equal_powers_is_plain_round_robin() -> None:
    vs = _valset([1, 1, 1])
    ps = ProposerSchedule(vs)
    keys = [v.pub_key for v in vs.validators]
    assert [ps.proposer(h, 0) for h in range(1, 7)] == keys + keys
    # Round r of height h is the same as round 0 of height h + r.
    assert ps.proposer(5, 2) == ps.proposer(7, 0)


def test_known_sequence_for_unequal_powers() -> None:
    # By hand: (A,B) priorities (1,2) -> B pays 3: (1,-1); (2,1) -> A: (-1,1); (0,3) -> B: (0,0).
    vs = _valset([1, 2])
    a, b = (v.pub_key for v in vs.validators)
    ps = ProposerSchedule(vs)
    assert [ps.proposer(h, 0) for h in range(1, 7)] == [b, a, b, b, a, b]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=7),
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 8)), min_size=1, max_size=40),
)
def test_matches_the_plain_walk_in_any_query_order(
    powers: list[int], queries: list[tuple[int, int]]
) -> None:
    vs = _valset(powers)
    walk = _reference(vs, 70)
    ps = ProposerSchedule(vs)
    for h, r in queries:
        assert ps.proposer(h, r) == walk[h + r - 1]


def test_every_node_computes_the_same_schedule() -> None:
    vs = _valset([5, 1, 3, 2])
    one, two = ProposerSchedule(vs), ProposerSchedule(vs)
    pairs = list(itertools.product(range(1, 30), range(4)))
    assert [one.proposer(h, r) for h, r in pairs] == [
        two.proposer(h, r) for h, r in reversed(pairs)
    ][::-1]


def test_far_heights_are_cheap() -> None:
    vs = _valset([1, 1, 1, 1])
    ps = ProposerSchedule(vs)
    keys = [v.pub_key for v in vs.validators]
    assert ps.proposer(10**12 + 1, 0) == keys[0]
