"""The votes of one height: power sums per round, type and block, and equivocation.

A validator that signs two votes for one (round, type) is reported once per
slot as evidence. Its extra votes still count, each for its own block (up to
`MAX_VERSIONS` per slot, so a faulty validator cannot grow the set without
bound): a +2/3 for one block must be seen by everyone even if some saw the
other version first, or a POL that honest nodes locked on could never be
proven to the rest. This is safe: two +2/3 sets share more than 1/3 of the
power, so some honest validator would have to vote twice.
"""

from __future__ import annotations

from enum import IntEnum

from agora.blockchain.votes import DuplicateVoteEvidence, ValidatorSet, Vote, make_evidence


class Added(IntEnum):
    NEW = 0
    DUPLICATE = 1  # the same vote again
    CONFLICT = 2  # the first other block for the same slot (evidence)
    IGNORED = 3  # too many rounds ahead of ours


MAX_VERSIONS = 3


class _Tally:
    __slots__ = ("by_block", "extra", "power", "votes")

    def __init__(self) -> None:
        self.votes: dict[bytes, Vote] = {}  # each validator's first vote
        self.extra: dict[bytes, list[Vote]] = {}  # its conflicting ones
        self.by_block: dict[bytes, int] = {}
        self.power = 0  # of distinct validators


class HeightVoteSet:
    def __init__(self, height: int, valset: ValidatorSet, max_rounds_ahead: int = 2) -> None:
        self.height = height
        self.valset = valset
        # Rounds above ours that each validator may occupy: an honest one is in at
        # most two (its round, and the precommits that led there).
        self.max_rounds_ahead = max_rounds_ahead
        self.current_round = 0
        self._tallies: dict[tuple[int, int], _Tally] = {}
        self._round_power: dict[int, int] = {}
        self._round_signers: dict[int, set[bytes]] = {}
        self._rounds_of: dict[bytes, set[int]] = {}
        self._evidenced: set[tuple[bytes, int, int]] = set()

    def add(self, vote: Vote) -> tuple[Added, DuplicateVoteEvidence | None]:
        """Count a vote whose signature, height and validator were already checked."""
        tally = self._tallies.get((vote.round, vote.type))
        first = tally.votes.get(vote.validator) if tally is not None else None
        if tally is not None and first is not None:
            extra = tally.extra.setdefault(vote.validator, [])
            if first.block_id == vote.block_id or any(x.block_id == vote.block_id for x in extra):
                return Added.DUPLICATE, None
            if len(extra) + 1 >= MAX_VERSIONS:
                return Added.IGNORED, None
            extra.append(vote)
            power = self.valset.power[vote.validator]
            tally.by_block[vote.block_id] = tally.by_block.get(vote.block_id, 0) + power
            slot = (vote.validator, vote.round, vote.type)
            if slot in self._evidenced:
                return Added.NEW, None
            self._evidenced.add(slot)
            return Added.CONFLICT, make_evidence(first, vote)
        rounds = self._rounds_of.setdefault(vote.validator, set())
        if vote.round > self.current_round and vote.round not in rounds:
            ahead = sum(1 for r in rounds if r > self.current_round)
            if ahead >= self.max_rounds_ahead:
                return Added.IGNORED, None
        if tally is None:
            tally = self._tallies[(vote.round, vote.type)] = _Tally()
        power = self.valset.power[vote.validator]
        tally.votes[vote.validator] = vote
        tally.by_block[vote.block_id] = tally.by_block.get(vote.block_id, 0) + power
        tally.power += power
        rounds.add(vote.round)
        signers = self._round_signers.setdefault(vote.round, set())
        if vote.validator not in signers:
            signers.add(vote.validator)
            self._round_power[vote.round] = self._round_power.get(vote.round, 0) + power
        return Added.NEW, None

    def holds(self, vote: Vote) -> bool:
        """This exact vote (signature included) is already counted."""
        tally = self._tallies.get((vote.round, vote.type))
        if tally is None:
            return False
        first = tally.votes.get(vote.validator)
        return first == vote or vote in tally.extra.get(vote.validator, ())

    def majority(self, round: int, type: int) -> bytes | None:
        """The block id (NIL included) with +2/3 of the power, if any."""
        tally = self._tallies.get((round, type))
        if tally is None or tally.power < self.valset.quorum:
            return None
        for block_id, power in tally.by_block.items():
            if power >= self.valset.quorum:
                return block_id
        return None

    def has_quorum_any(self, round: int, type: int) -> bool:
        tally = self._tallies.get((round, type))
        return tally is not None and tally.power >= self.valset.quorum

    def round_power(self, round: int) -> int:
        """Power of the distinct validators that voted in `round` (either type)."""
        return self._round_power.get(round, 0)

    def rounds(self) -> list[int]:
        return sorted(self._round_power)

    def votes(self, round: int, type: int) -> list[Vote]:
        """Every vote held for (round, type), conflicting versions included."""
        tally = self._tallies.get((round, type))
        if tally is None:
            return []
        out = list(tally.votes.values())
        for extra in tally.extra.values():
            out.extend(extra)
        return out

    def votes_for(self, round: int, type: int, block_id: bytes) -> list[Vote]:
        return [v for v in self.votes(round, type) if v.block_id == block_id]
