"""What a simulation run must show: safety, validity, no double signing, evidence, liveness.

Liveness bound (virtual time from the heal, when the network is good again
and every node is up, so more than 2/3 of the power is honest and up):

- catching up: each height a node lags costs at most one sync round trip
  plus a gossip period (the request is re-sent each period if lost);
- then a height may need M = total_power // min_power + 3 rounds: enough for
  the proposer rotation to reach the honest validator with the highest lock
  (whose proposal everyone accepts), plus one round to fall into step with
  the others, and slack for rounds lost to the equivocator or invalid blocks.
  Each round lasts at most its three timeouts, growing from the highest round
  R any honest node was in at the heal;
- K = 2 more heights must then be committed by every honest node (that is
  the check, and `recovery_ms` is how long it took). A new height starts at
  round 0 with no locks, so each costs the block interval plus M rounds
  counted from round 0.

The run then goes on to `heights` if that is more, with the same budget per
further height as its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agora.blockchain.votes import Vote
from agora.codec import encode, sha256
from agora.consensus_client import actions as act
from agora.consensus_client.sim_app import block_ok, commit_ok
from agora.consensus_client.types import ConsensusMsg, Proposal, VoteMsg

if TYPE_CHECKING:
    from agora.consensus_client.core import Core
    from agora.consensus_client.sim import SimNode, Simulation

K_AFTER_HEAL = 2
NEVER = 1 << 62


@dataclass
class SimResult:
    seed: int
    nodes: int
    heights: int
    ok: bool
    failures: list[str]
    committed: int  # the lowest height every honest node committed
    virtual_ms: int
    events: int
    equivocations: int
    evidence: int
    recovery_ms: int  # heal until every honest node committed K heights past the heal
    bound_ms: int
    plan: str
    digest: str = ""
    rounds: dict[int, int] = field(default_factory=dict)  # decided round -> heights

    powers: str = ""  # as given on the command line, if given

    def replay_command(self) -> str:
        powers = f" --powers {self.powers}" if self.powers else ""
        return (
            f"agora sim --seeds 1 --start {self.seed} --nodes {self.nodes} "
            f"--heights {self.heights}{powers} --verbose"
        )


class Checker:
    def __init__(self, sim: Simulation, trace: list[str] | None) -> None:
        self.sim = sim
        self.trace = trace
        self.failures: list[str] = []
        self.decided: dict[int, bytes] = {}
        self.decided_round: dict[int, int] = {}
        self.signed: dict[tuple[int, int, int, int], bytes] = {}
        self.expected: dict[int, set[tuple[bytes, int, int, int]]] = {}
        self.found: dict[int, set[tuple[bytes, int, int, int]]] = {}
        self.deadline_ms = NEVER
        self.live_target = NEVER
        self.target = NEVER
        self.heal_ms = -1
        self.bound_ms = 0
        self.recovery_ms = -1
        self.finished = False

    def note(self, line: str) -> None:
        if self.trace is not None:
            self.trace.append(f"{self.sim.now:>7}ms {line}")

    def fail(self, why: str) -> None:
        self.failures.append(f"at {self.sim.now}ms: {why}")
        self.note(f"FAIL {why}")
        self.finished = True

    # -- hooks --------------------------------------------------------------------

    def on_broadcast(self, n: SimNode, msg: ConsensusMsg) -> None:
        if n not in self.sim.honest:
            return  # the equivocator's own twins come back to it and it relays them
        if isinstance(msg, VoteMsg) and msg.vote.validator == n.pub:
            v = msg.vote
            self._signed(n, v.height, v.round, v.type, v.block_id)
        elif isinstance(msg, Proposal) and msg.proposer == n.pub:
            self._signed(n, msg.height, msg.round, 0, msg.block_id)

    def _signed(self, n: SimNode, height: int, round: int, kind: int, block_id: bytes) -> None:
        slot = (n.idx, height, round, kind)
        old = self.signed.setdefault(slot, block_id)
        if old != block_id:
            self.fail(f"n{n.idx} signed two different messages for h{height} r{round} k{kind}")

    def before_vote(self, n: SimNode, core: Core, v: Vote) -> None:
        """A node holding one vote that now gets a conflicting one must report it."""
        if v.height != core.height or n not in self.sim.honest:
            return
        held = {x.validator: x for x in core.hs.votes.votes(v.round, v.type)}.get(v.validator)
        if held is not None and held.block_id != v.block_id:
            self.expected.setdefault(n.idx, set()).add((v.validator, v.height, v.round, v.type))

    def on_evidence(self, n: SimNode, v: Vote) -> None:
        self.found.setdefault(n.idx, set()).add((v.validator, v.height, v.round, v.type))

    def on_commit(self, n: SimNode, a: act.CommitBlock) -> None:
        block_id = a.commit.block_id
        if a.height != n.app.height + 1:
            self.fail(f"n{n.idx} committed h{a.height} after h{n.app.height}")
        if not commit_ok(a.commit, "agora-sim", self.sim.valset, self.sim.verify):
            self.fail(f"n{n.idx} committed h{a.height} with a bad commit")
        if sha256(a.block) != block_id:
            self.fail(f"n{n.idx} committed h{a.height}: block does not match the commit")
        honest = n in self.sim.honest
        if honest and not block_ok(a.block, a.height):
            self.fail(f"n{n.idx} committed an invalid block at h{a.height}")
        old = self.decided.get(a.height)
        if old is None:
            self.decided[a.height] = block_id
            self.decided_round[a.height] = a.commit.round
            self.note(f"h{a.height} decided in round {a.commit.round}: {block_id.hex()[:12]}")
        elif old != block_id and honest:
            self.fail(f"SAFETY: two blocks at h{a.height}: {old.hex()[:12]} {block_id.hex()[:12]}")
        self.note(f"n{n.idx} commits h{a.height}")

    def after_commit(self) -> None:
        if self.heal_ms < 0:
            return
        low = min(h.app.height for h in self.sim.honest)
        if self.recovery_ms < 0 and low >= self.live_target:
            self.recovery_ms = self.sim.now - self.heal_ms
        if low >= self.target:
            self.finished = True

    def healed(self) -> None:
        sim = self.sim
        p = sim.cfg.params
        self.heal_ms = sim.now
        heights = [n.app.height for n in sim.honest]
        top_round = max(sim.current_round(n) for n in sim.honest)
        powers = [n.power for n in sim.nodes]
        rounds = sum(powers) // min(powers) + 3
        round_budget = sum(p.round_ms(top_round + k) for k in range(rounds))
        sync = (max(heights) - min(heights)) * (p.gossip_ms + 2 * sim.plan.delay_max_ms + 40)
        slack = p.block_interval_ms + 4 * sim.plan.delay_max_ms
        later = sum(p.round_ms(k) for k in range(rounds)) + slack
        self.bound_ms = sync + round_budget + slack + K_AFTER_HEAL * later
        self.live_target = max(heights) + K_AFTER_HEAL
        self.target = max(sim.cfg.heights, self.live_target)
        self.deadline_ms = self.heal_ms + self.bound_ms + (self.target - self.live_target) * later
        self.note(
            f"healed: heights {heights}, top round {top_round}, every honest node at "
            f"h{self.live_target} within {self.bound_ms}ms, then on to h{self.target}"
        )

    # -- the verdict ----------------------------------------------------------------

    def result(self) -> SimResult:
        sim = self.sim
        low = {n.idx: n.app.height for n in sim.honest}
        if not self.failures and self.recovery_ms < 0:
            self.fail(
                f"LIVENESS: honest heights {low} short of h{self.live_target} "
                f"{self.bound_ms}ms after the heal at {self.heal_ms}ms"
            )
        elif not self.failures and self.recovery_ms > self.bound_ms:
            self.fail(f"LIVENESS: recovery took {self.recovery_ms}ms, bound {self.bound_ms}ms")
        elif not self.failures and not self.finished:
            self.fail(f"LIVENESS: stalled at heights {low} short of h{self.target}")
        for idx, slots in sorted(self.expected.items()):
            missed = slots - self.found.get(idx, set())
            if missed:
                self.failures.append(f"n{idx} got conflicting votes but reported no evidence")
        equivocations = len(sim.equivocator.slots) if sim.equivocator else 0
        evidence = set().union(*self.found.values()) if self.found else set()
        rounds: dict[int, int] = {}
        for r in self.decided_round.values():
            rounds[r] = rounds.get(r, 0) + 1
        digest = sha256(encode(sorted(self.decided.items())) + encode(sim.events)).hex()[:16]
        return SimResult(
            seed=sim.cfg.seed,
            nodes=len(sim.nodes),
            heights=sim.cfg.heights,
            ok=not self.failures,
            failures=list(self.failures),
            committed=min(n.app.height for n in sim.honest),
            virtual_ms=sim.now,
            events=sim.events,
            equivocations=equivocations,
            evidence=len(evidence),
            recovery_ms=self.recovery_ms,
            bound_ms=self.bound_ms,
            plan=sim.plan.describe(),
            digest=digest,
            rounds=rounds,
            powers=",".join(map(str, sim.cfg.powers)) if sim.cfg.powers else "",
        )
