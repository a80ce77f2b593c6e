"""Checking a proposal whose txs the mempool already admitted: their checks are reused."""

from typing import Any

import msgspec
import nacl.signing
import pytest
from bc_util import transfer

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.kinds import Registered
from agora.blockchain.tx import Tx
from agora.errors import RemoteError

Keys = list[nacl.signing.SigningKey]


def pk(k: nacl.signing.SigningKey) -> bytes:
    return bytes(k.verify_key)


def _counting(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> list[Tx]:
    seen: list[Tx] = []
    real = chain.registry.check

    def check(tx: Tx, env: bytes, *, allow_erased: bool = False) -> tuple[Registered, Any]:
        seen.append(tx)
        return real(tx, env, allow_erased=allow_erased)

    monkeypatch.setattr(chain.registry, "check", check)
    return seen


def test_pooled_txs_are_not_checked_again(
    genesis: Genesis, vals: Keys, users: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = Chain.open(":memory:", genesis), Chain.open(":memory:", genesis)
    da = Driver(a, vals)
    txs = [transfer(u, n, pk(users[5]), fee=1 + n) for u in users[:4] for n in (1, 2)]
    a.mempool.add_batch(txs)
    b.mempool.add_batch(txs[:5])  # b got only some of them by gossip
    block = da.propose()
    assert len(block.txs) == len(txs)
    seen = _counting(b, monkeypatch)
    b.validate_block(block)
    # only the 3 txs b's mempool did not hold went through the stateless checks
    assert [t.signature for t in seen] == [t.signature for t in txs[5:]]
    commit = da.sign_commit(block)
    ra, rb = a.commit_block(block, commit), b.commit_block(block, commit)
    assert ra.state_root == rb.state_root
    assert ra.results == rb.results == [("ok", "")] * len(txs)
    assert len(b.mempool) == 0
    a.close()
    b.close()


def test_a_pooled_tx_with_another_body_is_checked_and_refused(
    genesis: Genesis, vals: Keys, users: Keys
) -> None:
    a, b = Chain.open(":memory:", genesis), Chain.open(":memory:", genesis)
    da = Driver(a, vals)
    txs = [transfer(users[0], n, pk(users[5])) for n in (1, 2)]
    a.mempool.add_batch(txs)
    b.mempool.add_batch(txs)
    block = da.propose()
    # Same envelope and signature (so the same hash, tx_root and block id), other body.
    body = block.txs[1].body
    assert body is not None
    forged = msgspec.structs.replace(block.txs[1], body=body + b"\x00")
    bad = msgspec.structs.replace(block, txs=[block.txs[0], forged])
    assert bad.id() == block.id()
    with pytest.raises(RemoteError) as e:
        b.validate_block(bad)
    assert e.value.code == "body_hash_mismatch"
    b.validate_block(block)  # the real one still passes
    a.close()
    b.close()
