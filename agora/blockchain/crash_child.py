"""A process that commits deterministic blocks until it is killed (the crash test).

`python -m agora.blockchain.crash_child SEED` is a small fork server: it
imports everything once, then for each `run DB` line on stdin forks a child
that opens the store at DB and commits blocks forever, writing
`h <height> <state_root hex>` on stdout after each commit returns. The server
writes `pid <pid>` when it forks and `exit <pid> <status>` once the child is
dead, so the test knows when it may open the store. Forking saves the
interpreter start for each of the many kills.

Blocks depend only on the seed and the height, so the test can replay them in
memory and compare state roots.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nacl.signing

from agora.blockchain.chain import Chain
from agora.blockchain.core_module import Transfer
from agora.blockchain.devchain import BLOCK_MS, Driver, dev_genesis, dev_keys
from agora.blockchain.genesis import Genesis, Params
from agora.blockchain.module import ApplyContext, KindSpec, StateView
from agora.blockchain.tx import Tx, TxError, make_tx
from agora.codec import Canonical, encode

USERS = 16
PARAMS = Params(min_fee=1, quota_base=100_000, quota_max=100_000)


class Tally(Canonical, frozen=True):
    n: int


class TallyModule:
    """A module with both root state and an index table, so both must survive together."""

    name = "tally"
    kinds: Mapping[str, KindSpec] = {"tally": KindSpec(Tally, 32)}
    migrations: Sequence[str] = (
        "CREATE TABLE tally_log (tx_hash BLOB PRIMARY KEY, height INTEGER, n INTEGER);",
    )

    def check(self, tx: Tx, body: Any, state: StateView) -> None:
        if body.n < 0:
            raise TxError("bad_body", "a tally counts up")

    def apply(self, tx: Tx, body: Any, ctx: ApplyContext) -> None:
        key = b"t/" + tx.envelope.sender
        total = int((ctx.get(key) or b"0").decode()) + body.n
        ctx.put(key, str(total).encode())
        ctx.db.execute("INSERT INTO tally_log VALUES (?, ?, ?)", (ctx.tx_hash, ctx.height, body.n))
        if body.n % 17 == 0:  # after writing: the savepoint must undo the row
            raise TxError("bad_body", "seventeen")

    def genesis(self, genesis: Genesis, ctx: ApplyContext) -> None:
        pass


def setup(seed: str) -> tuple[Genesis, list[nacl.signing.SigningKey], list[Any]]:
    vals = dev_keys("val", 4, seed.encode())
    users = dev_keys("user", USERS, seed.encode())
    return dev_genesis(vals, users, params=PARAMS), vals, users


def block_txs(seed: str, height: int, users: list[nacl.signing.SigningKey]) -> list[Tx]:
    """Every user sends one tx a block (nonce = height): transfers and tallies, some of
    which fail in `apply` after writing an index row."""
    cid = "agora-test"
    txs = []
    for i, k in enumerate(users):
        r = int.from_bytes(hashlib.sha256(f"{seed}/{height}/{i}".encode()).digest()[:4], "big")
        if (height + i) % 2:
            to = users[(i + 1 + r % (USERS - 1)) % USERS].verify_key
            body = encode(Transfer(bytes(to), 1 + r % 1000))
            txs.append(make_tx(k, cid, height, "transfer", body, fee=1 + r % 3))
        else:
            txs.append(make_tx(k, cid, height, "tally", encode(Tally(r % 100)), fee=1))
    return txs


def open_chain(path: Path | str, seed: str) -> tuple[Chain, Driver, list[Any]]:
    genesis, vals, users = setup(seed)
    chain = Chain.open(path, genesis, [TallyModule()])
    return chain, Driver(chain, vals), users


def advance(driver: Driver, seed: str, users: list[Any]) -> None:
    h = driver.chain.height + 1
    t = driver.chain.genesis.genesis_time + h * BLOCK_MS
    driver.step(block_txs(seed, h, users), time_ms=t)


def _child(db: str, seed: str) -> None:
    chain, driver, users = open_chain(db, seed)
    os.write(1, f"open {chain.height}\n".encode())
    for _ in range(1_000_000):  # bounded; the test kills it long before
        advance(driver, seed, users)
        os.write(1, f"h {chain.height} {chain.state_root.hex()}\n".encode())


def main() -> None:
    seed = sys.argv[1]
    for line in sys.stdin:
        cmd = line.split()
        if cmd[:1] != ["run"]:
            break
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _child(cmd[1], seed)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.write(1, f"pid {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {pid} {status}\n".encode())


if __name__ == "__main__":
    main()
