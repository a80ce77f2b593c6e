"""Consensus timing: timeouts that grow with the round, and the block interval."""

from __future__ import annotations

import msgspec

from agora.consensus_client.types import Step
from agora.errors import LocalError


class ConsensusParams(msgspec.Struct, frozen=True, kw_only=True):
    """All durations in milliseconds.

    A step's timeout in round r is `base + r * delta`, capped at `max_timeout_ms`:
    growing timeouts make rounds eventually long enough for any (unknown) network
    delay, which is what Tendermint's liveness needs.
    """

    propose_ms: int = 1000
    propose_delta_ms: int = 500
    prevote_ms: int = 500
    prevote_delta_ms: int = 250
    precommit_ms: int = 500
    precommit_delta_ms: int = 250
    # Time from the start of one height to the start of the next (timeout_commit).
    block_interval_ms: int = 1000
    # Re-broadcast period while a round is stuck; also paces catch-up requests.
    gossip_ms: int = 500
    max_timeout_ms: int = 60_000
    # Next-height messages held until the height starts (per validator, about 3 a round).
    future_msgs_per_validator: int = 12

    def __post_init__(self) -> None:
        fields = (
            self.propose_ms,
            self.prevote_ms,
            self.precommit_ms,
            self.gossip_ms,
            self.max_timeout_ms,
        )
        if min(fields) <= 0 or self.block_interval_ms < 0:
            raise LocalError("consensus durations must be positive", code="bad_params")
        deltas = (self.propose_delta_ms, self.prevote_delta_ms, self.precommit_delta_ms)
        if min(deltas) < 0 or self.future_msgs_per_validator < 1:
            raise LocalError("consensus deltas must not be negative", code="bad_params")

    def timeout_ms(self, step: Step, round: int) -> int:
        if step == Step.PROPOSE:
            base, delta = self.propose_ms, self.propose_delta_ms
        elif step == Step.PREVOTE:
            base, delta = self.prevote_ms, self.prevote_delta_ms
        elif step == Step.PRECOMMIT:
            base, delta = self.precommit_ms, self.precommit_delta_ms
        elif step == Step.GOSSIP:
            return self.gossip_ms
        else:
            raise LocalError(f"no timeout for step {step!r}", code="bad_step")
        return min(base + round * delta, self.max_timeout_ms)

    def round_ms(self, round: int) -> int:
        """The longest a round with no progress can last: its three timeouts."""
        return sum(self.timeout_ms(s, round) for s in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT))
