"""Who proposes in (height, round): weighted round robin by proposer priority.

CometBFT's algorithm: at each step every validator's priority grows by its
power, the highest priority proposes (ties go to the smaller public key) and
pays the total power back. Each validator proposes in proportion to its power,
and every node computes the same sequence.

Height h, round r is step h + r of that walk from all-zero priorities (the
same as CometBFT's one increment per height plus r more within the height).
The sum of priorities stays 0 and, for a fixed set, the walk returns to zero
after `total_power` steps (each validator is picked exactly `power` times), so
only the step number modulo the total power matters. CometBFT's rescaling and
re-centering never trigger on that walk; a validator set that changes would
need its priorities carried in chain state (left to the integration).
"""

from __future__ import annotations

from agora.blockchain.votes import ValidatorSet


class ProposerSchedule:
    def __init__(self, valset: ValidatorSet) -> None:
        self.valset = valset
        self._keys = [v.pub_key for v in valset.validators]  # sorted: ties to the smaller key
        self._powers = [v.power for v in valset.validators]
        self._period = valset.total_power
        self._checkpoint = (0, [0] * len(self._keys))
        self._cursor = (0, [0] * len(self._keys))
        self._last_pick = -1

    def proposer(self, height: int, round: int) -> bytes:
        if height < 1 or round < 0:
            raise ValueError("height starts at 1 and round at 0")
        step = (height + round - 1) % self._period + 1
        k, prio = self._cursor
        pick = self._last_pick
        if step < k or pick < 0:
            ck, cprio = self._checkpoint
            k, prio = (ck, list(cprio)) if ck < step else (0, [0] * len(self._keys))
            pick = -1
        while k < step:
            pick = self._advance(prio)
            k += 1
        self._cursor = (k, prio)
        self._last_pick = pick
        if round == 0:
            # Rounds of this height (and the next height) start from here.
            self._checkpoint = (k - 1, self._undo(prio, pick))
        return self._keys[pick]

    def _advance(self, prio: list[int]) -> int:
        best = 0
        for i, power in enumerate(self._powers):
            prio[i] += power
            if prio[i] > prio[best]:
                best = i
        prio[best] -= self._period
        return best

    def _undo(self, prio: list[int], pick: int) -> list[int]:
        before = [p - w for p, w in zip(prio, self._powers, strict=True)]
        before[pick] += self._period
        return before
