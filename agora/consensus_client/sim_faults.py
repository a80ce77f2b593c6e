"""The simulator's fault model, drawn from one seed.

Until `heal_ms` the network is bad: messages are lost, delayed (which also
reorders them) and duplicated, partitions split the nodes for a while, and
nodes crash and restart from their WAL. From `heal_ms` on, partitions are over,
every node is up and loss is at most 1%; delays and duplication go on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Partition:
    start_ms: int
    end_ms: int
    side: frozenset[int]  # one side; the other nodes are the other side

    def splits(self, a: int, b: int, now_ms: int) -> bool:
        return self.start_ms <= now_ms < self.end_ms and ((a in self.side) != (b in self.side))


@dataclass(frozen=True)
class Crash:
    node: int
    at_ms: int
    restart_ms: int


@dataclass(frozen=True)
class FaultPlan:
    heal_ms: int
    loss: float  # before heal
    loss_healed: float
    delay_min_ms: int
    delay_max_ms: int
    duplicate: float
    invalid_block: float  # chance that the fake app builds an invalid block
    equivocator: int | None
    partitions: tuple[Partition, ...] = field(default=())
    crashes: tuple[Crash, ...] = field(default=())

    @staticmethod
    def draw(rng: random.Random, powers: list[int], faults: bool = True) -> FaultPlan:
        n = len(powers)
        total = sum(powers)
        # The equivocator must hold less than a third of the power.
        byz_ok = [i for i, p in enumerate(powers) if 3 * p < total]
        equivocator = rng.choice(byz_ok) if byz_ok and faults and rng.random() < 0.5 else None
        heal = rng.randint(1000, 8000) if faults else 0
        delay_min = rng.randint(1, 30)
        delay_max = delay_min + rng.randint(0, 150)
        partitions: list[Partition] = []
        crashes: list[Crash] = []
        if faults:
            for _ in range(rng.randint(0, 2)):
                start = rng.randint(0, heal - 1)
                side = frozenset(rng.sample(range(n), rng.randint(1, max(1, n - 1))))
                partitions.append(Partition(start, rng.randint(start + 1, heal), side))
            for _ in range(rng.randint(0, 2)):
                at = rng.randint(0, heal - 1)
                crashes.append(Crash(rng.randrange(n), at, rng.randint(at + 1, heal)))
        return FaultPlan(
            heal_ms=heal,
            loss=rng.uniform(0.0, 0.3) if faults else 0.0,
            loss_healed=rng.choice([0.0, 0.01]) if faults else 0.0,
            delay_min_ms=delay_min,
            delay_max_ms=delay_max,
            duplicate=rng.uniform(0.0, 0.1) if faults else 0.0,
            invalid_block=rng.choice([0.0, 0.05, 0.2]) if faults else 0.0,
            equivocator=equivocator,
            partitions=tuple(partitions),
            crashes=tuple(crashes),
        )

    def loss_at(self, now_ms: int) -> float:
        return self.loss if now_ms < self.heal_ms else self.loss_healed

    def cut(self, a: int, b: int, now_ms: int) -> bool:
        return any(p.splits(a, b, now_ms) for p in self.partitions)

    def describe(self) -> str:
        parts = ", ".join(f"{sorted(p.side)}|rest {p.start_ms}-{p.end_ms}" for p in self.partitions)
        crashes = ", ".join(f"n{c.node} {c.at_ms}-{c.restart_ms}" for c in self.crashes)
        return (
            f"heal={self.heal_ms}ms loss={self.loss:.2f}->{self.loss_healed:.2f} "
            f"delay={self.delay_min_ms}-{self.delay_max_ms}ms dup={self.duplicate:.2f} "
            f"invalid={self.invalid_block:.2f} equivocator={self.equivocator} "
            f"partitions=[{parts}] crashes=[{crashes}]"
        )
