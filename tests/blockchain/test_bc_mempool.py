import msgspec
import nacl.signing
import pytest
from bc_util import PARAMS, transfer

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.mempool import Mempool
from agora.blockchain.tx import Tx, TxError, tx_hash

Keys = list[nacl.signing.SigningKey]


def pk(k: nacl.signing.SigningKey) -> bytes:
    return bytes(k.verify_key)


def snapshot(m: Mempool) -> tuple[int, int, list[bytes]]:
    return len(m), m.bytes, [e.hash for e in m.ordered()]


def test_order_by_fee_then_arrival_within_nonce_order(chain: Chain, users: Keys) -> None:
    a, b, c = users[0], users[1], users[2]
    to = pk(users[3])
    txs = [
        transfer(a, 1, to, fee=1),
        transfer(a, 2, to, fee=9),  # high fee, but behind a's nonce 1
        transfer(b, 1, to, fee=5),
        transfer(c, 1, to, fee=5),  # same fee as b's, arrived later
    ]
    m = chain.mempool
    assert all(isinstance(r, bytes) for r in m.add_batch(txs))
    order = [e.tx for e in m.ordered()]
    assert order == [txs[2], txs[3], txs[0], txs[1]]


def test_entry_checks_with_pending_runs(chain: Chain, users: Keys) -> None:
    m = chain.mempool
    a, to = users[0], pk(users[1])
    m.add(transfer(a, 1, to, fee=1))
    before = snapshot(m)
    cases = [
        (transfer(a, 1, to, fee=1), "duplicate_tx"),
        (transfer(a, 1, to, amount=2, fee=1), "bad_nonce"),
        (transfer(a, 3, to, fee=1), "nonce_gap"),
        (transfer(a, 2, to, fee=10**6), "insufficient_balance"),  # with the pending fee
        (transfer(a, 2, to, fee=0), "fee_too_low"),
        (transfer(a, 2, to, amount=10**7), "insufficient_balance"),
        (transfer(a, 2, pk(a)), "bad_body"),
        (msgspec.structs.replace(transfer(a, 2, to), signature=bytes(64)), "bad_signature"),
        (transfer(a, 2, to, expiry=0), None),
    ]
    for tx, code in cases[:-1]:
        with pytest.raises(TxError) as e:
            m.add(tx)
        assert e.value.code == code, (code, e.value)
        assert e.value.penalty == 0
        assert snapshot(m) == before
    m.add(cases[-1][0])
    assert len(m) == 2
    assert m.pending_nonce(a.verify_key.encode()) == 2 and m.pending_nonce(b"\x00" * 32) == 0


def test_quota_counts_pending_txs(chain: Chain, users: Keys) -> None:
    m = chain.mempool
    a, to = users[0], pk(users[1])
    # The bucket is sized by the balance left after the fee (999_999): 5 + 9 actions.
    cap = PARAMS.quota_base + (1_000_000 - 1) // PARAMS.quota_balance_step
    assert cap == 14
    for n in range(1, cap + 1):
        m.add(transfer(a, n, to))
    with pytest.raises(TxError) as e:
        m.add(transfer(a, cap + 1, to))
    assert e.value.code == "over_quota"


def test_batch_verifies_once_and_blocks_do_not_reverify(driver: Driver, users: Keys) -> None:
    c = driver.chain
    txs = [transfer(users[i % 4], i // 4 + 1, pk(users[5])) for i in range(40)]
    bad = msgspec.structs.replace(txs[7], signature=bytes(64))
    results = c.mempool.add_batch([*txs[:7], bad, *txs[8:]])
    assert isinstance(results[7], TxError) and results[7].code == "bad_signature"
    # users[3]'s nonces 3..10 come after the refused nonce 2: a nonce gap.
    codes = [r.code for r in results if isinstance(r, TxError)]
    assert codes == ["bad_signature"] + ["nonce_gap"] * 8
    verified = c.verifier.verified
    assert verified == 40
    r = driver.commit(driver.propose())
    assert len(r.tx_hashes) == 31 and len(c.mempool) == 0
    assert c.verifier.verified == verified  # the block's signatures came from the cache
    assert set(r.tx_hashes).isdisjoint(c.mempool.by_hash)


def test_bounded_by_count_evicting_lowest_fee_tail(genesis: Genesis, users: Keys) -> None:
    c = Chain.open(":memory:", genesis)
    c.mempool.max_txs = 3
    to = pk(users[5])
    m = c.mempool
    m.add(transfer(users[0], 1, to, fee=5))
    m.add(transfer(users[0], 2, to, fee=1))  # lowest, and the tail of users[0]'s run
    m.add(transfer(users[1], 1, to, fee=3))
    before = snapshot(m)
    with pytest.raises(TxError) as e:
        m.add(transfer(users[2], 1, to, fee=1))
    assert e.value.code == "mempool_full"
    assert snapshot(m) == before
    h = m.add(transfer(users[2], 1, to, fee=2))
    assert len(m) == 3 and h in m
    assert tx_hash(transfer(users[0], 2, to, fee=1)) not in m
    # users[0] can refill nonce 2 after the eviction.
    m.max_txs = 4
    m.add(transfer(users[0], 2, to, fee=4))
    c.close()


def test_bounded_by_bytes(genesis: Genesis, users: Keys) -> None:
    c = Chain.open(":memory:", genesis)
    m = c.mempool
    one = transfer(users[0], 1, pk(users[5]), fee=1)
    m.add(one)
    m.max_bytes = m.bytes * 2
    m.add(transfer(users[1], 1, pk(users[5]), fee=1))
    with pytest.raises(TxError) as e:
        m.add(transfer(users[2], 1, pk(users[5]), fee=1))
    assert e.value.code == "mempool_full"
    m.add(transfer(users[2], 1, pk(users[5]), fee=2))
    assert m.bytes <= m.max_bytes and len(m) == 2
    c.close()


def test_recheck_after_block_drops_stale(driver: Driver, users: Keys) -> None:
    c = driver.chain
    a, to = users[0], pk(users[1])
    # Another node's mempool had a's nonce 1 with a different body; it got committed.
    theirs = transfer(a, 1, to, amount=999_990, fee=1)
    ours = [transfer(a, 1, to, amount=5), transfer(a, 2, to, amount=50)]
    for t in ours:
        c.mempool.add(t)
    block = driver.propose()
    from agora.blockchain.block import Block, tx_root

    h = msgspec.structs.replace(block.header, tx_root=tx_root([tx_hash(theirs)]))
    driver.commit(Block(h, [theirs], None, []))
    # ours[0] is now a used nonce and ours[1] cannot pay: both rechecked out.
    assert len(c.mempool) == 0
    c.mempool.add(transfer(a, 2, to, amount=1))


def test_included_elsewhere_and_order_kept(driver: Driver, users: Keys) -> None:
    c = driver.chain
    txs: list[Tx] = [transfer(users[0], n, pk(users[1]), fee=n) for n in range(1, 6)]
    for t in txs:
        c.mempool.add(t)
    c.genesis.params  # noqa: B018
    r = driver.commit(driver.propose())
    assert len(r.tx_hashes) == 5 and len(c.mempool) == 0
    assert r.results == [("ok", "")] * 5


def test_builder_accounts_match_phase_one_on_another_node(
    genesis: Genesis, vals: Keys, users: Keys
) -> None:
    from agora.blockchain.executor import charge_block, prepare

    small = msgspec.structs.replace(
        genesis, params=msgspec.structs.replace(PARAMS, max_block_bytes=4000)
    )
    a = Chain.open(":memory:", small)
    b = Chain.open(":memory:", small)
    da, db = Driver(a, vals), Driver(b, vals)
    for step in range(3):
        txs = [
            transfer(u, step * 3 + n, pk(users[5]), fee=1 + n) for u in users[:4] for n in (1, 2, 3)
        ]
        a.mempool.add_batch(txs)
        block = da.propose()
        assert 0 < len(block.txs) < len(txs) + len(a.mempool)  # the byte budget cut runs
        b.validate_block(block)
        p = prepare(block, b.registry, b.verifier, allow_erased=False)
        cached = a._prepared
        assert cached is not None and cached[2] == charge_block(
            p, b.registry, b.store.state.get, b.time_ms
        )
        commit = da.sign_commit(block)
        ra = a.commit_block(block, commit)
        rb = b.commit_block(block, commit)
        da.last_commit = db.last_commit = commit
        assert ra.state_root == rb.state_root
        # Leftovers go into the next block, still in nonce order.
        while len(a.mempool):
            blk = da.propose()
            c = da.sign_commit(blk)
            assert a.commit_block(blk, c).state_root == b.commit_block(blk, c).state_root
            da.last_commit = db.last_commit = c
    a.close()
    b.close()


def test_recheck_drops_the_rest_of_a_run_after_a_failure(driver: Driver, users: Keys) -> None:
    from agora.blockchain.block import Block, tx_root

    c = driver.chain
    a, to = users[0], pk(users[1])
    run = [transfer(a, 1, to, amount=600_000), transfer(a, 2, to, amount=600_000)]
    run.append(transfer(a, 3, to, amount=1))
    for t in run:
        c.mempool.add(t)  # each checked against the committed balance of 1,000,000
    block = driver.propose()
    h = msgspec.structs.replace(block.header, tx_root=tx_root([tx_hash(run[0])]))
    driver.commit(Block(h, [run[0]], None, []))
    # Nonce 2 can no longer pay 600,000, and nonce 3 would follow a hole: both go.
    assert len(c.mempool) == 0
    c.mempool.add(transfer(a, 2, to, amount=10))


def test_prefetch_verifies_in_the_background_once(chain: Chain, users: Keys) -> None:
    txs = [transfer(users[i % 4], i // 4 + 1, pk(users[5])) for i in range(56)]  # 14 each
    bad = msgspec.structs.replace(txs[-1], signature=bytes(64))
    burst = [*txs[:-1], bad]
    chain.mempool.prefetch(burst)
    results = chain.mempool.add_batch(burst)
    assert chain.verifier.verified == 56  # each signature checked once, in the background
    assert isinstance(results[-1], TxError) and results[-1].code == "bad_signature"
    assert all(isinstance(r, bytes) for r in results[:-1])
