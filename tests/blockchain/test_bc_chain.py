from pathlib import Path

import msgspec
import nacl.signing
import pytest
from bc_util import PARAMS, transfer

from agora.blockchain.account import MILLI
from agora.blockchain.block import Block, Header, evidence_hash, last_commit_hash
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.merkle import verify_proof
from agora.blockchain.reader import Reader
from agora.blockchain.schema import key8
from agora.blockchain.store import store_digest
from agora.blockchain.tx import erased
from agora.blockchain.votes import VoteType, make_commit, make_evidence, sign_vote
from agora.codec import encode
from agora.errors import LocalError, RemoteError

Keys = list[nacl.signing.SigningKey]


def pk(k: nacl.signing.SigningKey) -> bytes:
    return bytes(k.verify_key)


def test_transfers_fees_nonces_and_results(driver: Driver, users: Keys) -> None:
    c = driver.chain
    a, b = users[0], users[1]
    root0 = c.state_root
    # The mempool checks each against the last block; the second fails when executed.
    r = driver.step([transfer(a, 1, pk(b), 999_000, fee=2), transfer(a, 2, pk(b), 5000, fee=3)])
    assert r.height == c.height == 1
    assert r.results == [("ok", ""), ("insufficient_balance", "amount 5000 > balance 995")]
    assert c.state_root == r.state_root != root0
    view = c.view()
    assert view.account(pk(a)).balance == 1_000_000 - 999_000 - 5  # the failed tx still paid
    assert view.account(pk(a)).nonce == 2
    assert view.account(pk(b)).balance == 1_000_000 + 999_000
    proposer = driver.validators[1 % 4]
    assert view.account(pk(proposer)).balance == 5
    # Replay: the same tx again is refused by the mempool, and by a block.
    with pytest.raises(RemoteError) as e:
        c.mempool.add(transfer(a, 1, pk(b), 999_000, fee=2))
    assert e.value.code == "nonce_too_old"


def test_same_blocks_same_root_and_reopen(
    tmp_path: Path, genesis: Genesis, vals: Keys, users: Keys
) -> None:
    roots = []
    for path in (tmp_path / "a.db", ":memory:"):
        c = Chain.open(path, genesis)
        d = Driver(c, vals)
        for n in range(1, 4):
            d.step([transfer(users[0], n, pk(users[n]), n)], time_ms=genesis.genesis_time + n)
        roots.append((c.height, c.state_root, c.last_block_id))
        c.close()
    assert roots[0] == roots[1]
    c = Chain.open(tmp_path / "a.db", genesis)
    assert (c.height, c.state_root, c.last_block_id) == roots[0]
    assert c.seen_commit(3) is not None
    d = Driver(c, vals)
    d.step([transfer(users[0], 4, pk(users[1]), 1)])
    assert c.height == 4
    c.close()
    other = msgspec.structs.replace(genesis, chain_id="other")
    with pytest.raises(LocalError) as e:
        Chain.open(tmp_path / "a.db", other)
    assert e.value.code == "genesis_mismatch"


def test_reader_lookups(tmp_path: Path, genesis: Genesis, vals: Keys, users: Keys) -> None:
    c = Chain.open(tmp_path / "c.db", genesis)
    d = Driver(c, vals)
    txs = [transfer(users[0], n, pk(users[1]), n) for n in range(1, 4)]
    d.step(txs[:2])
    r2 = d.step(txs[2:])
    reader = Reader.open(tmp_path / "c.db")
    st = reader.status()
    assert (st.height, st.block_id, st.state_root) == (2, c.last_block_id, c.state_root)
    b1 = reader.get_block(1)
    assert b1 is not None and b1.txs == txs[:2]
    assert reader.get_block(b1.id()) == b1
    assert reader.get_block(3) is None and reader.get_block(b"\x00" * 32) is None
    commit = reader.get_commit(2)
    assert commit is not None and commit.block_id == r2.block_id
    commit.verify(genesis.chain_id, c.valset)
    info = reader.get_tx(r2.tx_hashes[0])
    assert info is not None and (info.height, info.index, info.code) == (2, 0, "ok")
    assert info.tx == txs[2] and info.proof is not None
    b2 = reader.get_block(2)
    assert b2 is not None
    assert verify_proof(b2.header.tx_root, info.hash, info.proof)
    assert reader.get_results(2) == [("ok", "")] and reader.get_results(5) == []
    assert reader.account(pk(users[1])).balance == 1_000_006
    assert reader.get_tx(b"\x01" * 32) is None
    # Index keys are 8-byte prefixes: a row sharing both prefixes must not be mistaken.
    other = transfer(users[2], 1, pk(users[1]))
    rid = (9 << 20) + 1
    c.store.conn.execute(
        "INSERT INTO txs VALUES (?, ?, ?, 'ok', '')",
        (rid, encode(other.envelope) + other.signature, other.body),
    )
    c.store.conn.execute("INSERT INTO tx_hashes VALUES (?, ?)", (key8(r2.tx_hashes[0]), rid))
    again = reader.get_tx(r2.tx_hashes[0])
    assert again is not None and again.tx == txs[2] and again.height == 2
    reader.close()
    c.close()


def _propose(d: Driver, **changes: object) -> Block:
    b = d.propose()
    return msgspec.structs.replace(b, header=msgspec.structs.replace(b.header, **changes))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"chain_id": "x"}, "wrong_chain"),
        ({"height": 5}, "bad_height"),
        ({"prev_hash": b"\x01" * 32}, "bad_prev_hash"),
        ({"time": 0}, "bad_time"),
        ({"state_root": b"\x01" * 32}, "bad_state_root"),
        ({"proposer": b"\x01" * 32}, "bad_proposer"),
        ({"validators_hash": b"\x01" * 32}, "bad_validators_hash"),
        ({"tx_root": b"\x01" * 32}, "bad_tx_root"),
        ({"last_commit_hash": b"\x01" * 32}, "bad_last_commit"),
        ({"evidence_hash": b"\x01" * 32}, "bad_evidence"),
    ],
)
def test_bad_headers_are_refused_and_change_nothing(
    driver: Driver, users: Keys, changes: dict[str, object], code: str
) -> None:
    driver.step([transfer(users[0], 1, pk(users[1]))])
    driver.chain.mempool.add(transfer(users[0], 2, pk(users[1])))
    block = _propose(driver, **changes)
    before = (driver.chain.height, driver.chain.state_root, len(driver.chain.mempool))
    with pytest.raises(RemoteError) as e:
        driver.chain.validate_block(block)
    assert e.value.code == code
    with pytest.raises(RemoteError) as e:
        driver.commit(block)
    assert e.value.code in (code, "bad_commit")
    assert (driver.chain.height, driver.chain.state_root, len(driver.chain.mempool)) == before


def _with_txs(d: Driver, block: Block, txs: list) -> Block:  # type: ignore[type-arg]
    from agora.blockchain.block import tx_root
    from agora.blockchain.tx import tx_hash

    h = msgspec.structs.replace(block.header, tx_root=tx_root([tx_hash(t) for t in txs]))
    return Block(h, txs, block.last_commit, block.evidence)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda u, to: [transfer(u, 2, to)], "nonce_gap"),
        (lambda u, to: [transfer(u, 1, to), transfer(u, 1, to, amount=2)], "nonce_too_old"),
        (lambda u, to: [transfer(u, 1, to, fee=0)], "fee_too_low"),
        (lambda u, to: [transfer(u, 1, to, fee=10**7)], "insufficient_balance"),
        (lambda u, to: [transfer(u, 1, to, expiry=0), transfer(u, 2, to, expiry=0)], None),
        (
            lambda u, to: [transfer(u, 1, to, expiry=0), transfer(u, 2, to, expiry=0)] * 2,
            "duplicate_tx",
        ),
        (lambda u, to: [erased(transfer(u, 1, to))], "missing_body"),
        (lambda u, to: [transfer(u, n, to) for n in range(1, 17)], "over_quota"),
    ],
)
def test_bad_txs_make_the_block_invalid(driver: Driver, users: Keys, make, code) -> None:  # type: ignore[no-untyped-def]
    txs = make(users[0], pk(users[1]))
    block = _with_txs(driver, driver.propose(), txs)
    if code is None:
        driver.chain.validate_block(block)
        return
    with pytest.raises(RemoteError) as e:
        driver.chain.validate_block(block)
    assert e.value.code == code
    assert driver.chain.height == 0


def test_bad_signature_and_expiry(driver: Driver, users: Keys) -> None:
    good = transfer(users[0], 1, pk(users[1]))
    forged = msgspec.structs.replace(good, signature=bytes(64))
    with pytest.raises(RemoteError) as e:
        driver.chain.validate_block(_with_txs(driver, driver.propose(), [forged]))
    assert e.value.code == "bad_signature"
    driver.step()
    late = transfer(users[0], 1, pk(users[1]), expiry=1)
    with pytest.raises(RemoteError) as e:
        driver.chain.validate_block(_with_txs(driver, driver.propose(), [late]))
    assert e.value.code == "expired"


def test_commit_must_be_for_the_block_with_quorum(driver: Driver, vals: Keys) -> None:
    block = driver.propose()
    bid = block.id()
    two = [sign_vote(k, "agora-test", 1, 0, VoteType.PRECOMMIT, bid) for k in vals[:2]]
    with pytest.raises(RemoteError) as e:
        driver.chain.commit_block(block, make_commit(two))
    assert e.value.code == "commit_without_quorum"
    other = [sign_vote(k, "agora-test", 1, 0, VoteType.PRECOMMIT, b"\x02" * 32) for k in vals]
    with pytest.raises(RemoteError) as e:
        driver.chain.commit_block(block, make_commit(other))
    assert e.value.code == "bad_commit"
    assert driver.chain.height == 0
    driver.commit(block)
    # Block 2 must carry block 1's commit.
    b2 = driver.propose()
    no_lc = Block(
        msgspec.structs.replace(b2.header, last_commit_hash=last_commit_hash(None)),
        b2.txs,
        None,
        [],
    )
    with pytest.raises(RemoteError) as e:
        driver.chain.validate_block(no_lc)
    assert e.value.code == "bad_last_commit"


def test_evidence_is_verified_stored_once(driver: Driver, vals: Keys) -> None:
    driver.step()
    v1 = sign_vote(vals[0], "agora-test", 1, 0, VoteType.PREVOTE, b"\x01" * 32)
    v2 = sign_vote(vals[0], "agora-test", 1, 0, VoteType.PREVOTE, b"\x02" * 32)
    ev = make_evidence(v1, v2)
    c = driver.chain
    block = c.build_block(driver.next_time(), pk(vals[0]), driver.last_commit, [ev])
    c.validate_block(block)
    driver.commit(block)
    again = c.build_block(driver.next_time(), pk(vals[0]), driver.last_commit, [ev])
    with pytest.raises(RemoteError) as e:
        c.validate_block(again)
    assert e.value.code == "bad_evidence"
    forged = make_evidence(v1, msgspec.structs.replace(v2, signature=bytes(64)))
    bad = c.build_block(driver.next_time(), pk(vals[0]), driver.last_commit, [forged])
    with pytest.raises(RemoteError) as e:
        c.validate_block(bad)
    assert e.value.code == "bad_evidence"
    assert evidence_hash([]) != evidence_hash([ev])


def test_block_limits(genesis: Genesis, vals: Keys, users: Keys) -> None:
    small = msgspec.structs.replace(
        genesis, params=msgspec.structs.replace(PARAMS, max_block_txs=2)
    )
    c = Chain.open(":memory:", small)
    d = Driver(c, vals)
    for n in range(1, 4):
        c.mempool.add(transfer(users[0], n, pk(users[1])))
    block = d.propose()
    assert len(block.txs) == 2  # the builder honours the limit
    d.commit(block)
    assert len(c.mempool) == 1
    big = _with_txs(d, d.propose(), [transfer(users[1], n, pk(users[0])) for n in range(1, 4)])
    with pytest.raises(RemoteError) as e:
        c.validate_block(big)
    assert e.value.code == "block_too_large"
    c.close()


def test_quota_refills_with_block_time(driver: Driver, users: Keys, genesis: Genesis) -> None:
    # users[5] is a newcomer with no balance: quota_base actions, and fee 0 is too low,
    # so fund it first.
    newcomer = users[5]
    t0 = genesis.genesis_time
    driver.step([transfer(users[0], 1, pk(newcomer), 1000)], time_ms=t0 + 1)
    cap = PARAMS.quota_base
    txs = [transfer(newcomer, n, pk(users[0]), 1) for n in range(1, cap + 1)]
    driver.step(txs, time_ms=t0 + 2)
    acct = driver.chain.view().account(pk(newcomer))
    assert acct.quota_milli == 0
    with pytest.raises(RemoteError) as e:
        driver.chain.mempool.add(transfer(newcomer, cap + 1, pk(users[0]), 1))
    assert e.value.code == "over_quota"
    # One fifth of a window later, one action came back.
    driver.step(time_ms=t0 + 2 + PARAMS.quota_window_ms // cap)
    driver.chain.mempool.add(transfer(newcomer, cap + 1, pk(users[0]), 1))
    assert driver.chain.view().account(pk(newcomer)).quota_milli == 0
    rich = driver.chain.view().account(pk(users[1]))
    assert rich.quota_milli == -1  # untouched: full, and larger than a newcomer's
    assert MILLI == 1000


def test_genesis_header_fields(driver: Driver, genesis: Genesis) -> None:
    b = driver.propose()
    assert b.header.prev_hash == genesis.hash() == driver.chain.last_block_id
    assert b.last_commit is None
    assert isinstance(b.header, Header)
    c = driver.chain
    with pytest.raises(LocalError):
        c.build_block(genesis.genesis_time - 1, b.header.proposer, None)
    assert store_digest(c.store.conn) == store_digest(c.store.conn)
