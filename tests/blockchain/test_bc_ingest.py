"""The ingest path's shortcuts: each must give exactly what the plain path gives."""

import os
import signal

import msgspec
import nacl.signing
import pytest
from bc_util import CHAIN, PARAMS, transfer
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.blockchain import account as account_mod
from agora.blockchain.account import (
    MILLI,
    Account,
    charge,
    dump_account,
    load_account,
    quota_capacity,
    quota_now,
)
from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver, dev_keys
from agora.blockchain.genesis import Genesis, Params
from agora.blockchain.siglane import pack, verify_packed
from agora.blockchain.sigs import Verifier, verify_chunk
from agora.blockchain.state import next_root, sorted_changes
from agora.blockchain.tx import (
    TX_DOMAIN,
    Envelope,
    TxError,
    decode_tx_env,
    encode_tx,
    erased,
    make_tx,
    tx_hash,
)
from agora.codec import encode

Keys = list[nacl.signing.SigningKey]
KEYS = dev_keys("ingest", 40)


def _reference_charge(
    params: Params, acct: Account, env: Envelope, cost: int, height: int, time_ms: int
) -> Account:
    """`charge` as the docs state it, through quota_now and quota_capacity."""
    if env.expiry and height > env.expiry:
        raise TxError("expired", "")
    if env.nonce <= acct.nonce:
        raise TxError("nonce_too_old", "")
    if env.nonce != acct.nonce + 1:
        raise TxError("nonce_gap", "")
    if env.fee > acct.balance:
        raise TxError("insufficient_balance", "")
    balance = acct.balance - env.fee
    tokens = quota_now(params, acct, time_ms)
    if cost * MILLI > tokens:
        raise TxError("over_quota", "")
    tokens = min(tokens, quota_capacity(params, balance)) - cost * MILLI
    return Account(balance, env.nonce, max(tokens, 0), time_ms)


small = st.integers(0, 50)


@settings(max_examples=400, deadline=None)
@given(
    window=st.sampled_from([1, 1000, 3_600_000]),
    base=small,
    step=st.sampled_from([0, 1, 7, 1000]),
    top=st.integers(0, 100),
    balance=st.one_of(small, st.integers(0, 10**12)),
    nonce=st.integers(0, 3),
    quota=st.one_of(st.just(-1), st.integers(0, 200_000)),
    last=st.integers(0, 10_000),
    tx_nonce=st.integers(0, 4),
    fee=st.one_of(small, st.integers(0, 10**6)),
    expiry=st.integers(0, 10),
    cost=st.integers(0, 5),
    height=st.integers(1, 10),
    now=st.integers(0, 20_000),
)
def test_inlined_charge_equals_the_documented_rule(
    window: int,
    base: int,
    step: int,
    top: int,
    balance: int,
    nonce: int,
    quota: int,
    last: int,
    tx_nonce: int,
    fee: int,
    expiry: int,
    cost: int,
    height: int,
    now: int,
) -> None:
    params = Params(quota_window_ms=window, quota_base=base, quota_balance_step=step, quota_max=top)
    acct = Account(balance, nonce, quota, last)
    env = Envelope(CHAIN, b"\x01" * 32, tx_nonce, "transfer", b"\x02" * 32, fee, expiry)
    got: Account | str
    want: Account | str
    try:
        got = charge(params, acct, env, cost, height, now)
    except TxError as e:
        got = e.code
    try:
        want = _reference_charge(params, acct, env, cost, height, now)
    except TxError as e:
        want = e.code
    assert got == want


def test_account_memo_gives_equal_values_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(account_mod, "_LOADED_MAX", 8)
    accts = [Account(i, i % 3, -1 if i % 2 else i * 10, i) for i in range(30)]
    raws = [dump_account(a) for a in accts]
    assert len(account_mod._loaded) <= 8
    for a, raw in zip(accts, raws, strict=True):
        assert load_account(bytes(bytearray(raw))) == a  # a fresh bytes object, same value
        assert load_account(raw) == msgspec.msgpack.decode(raw, type=Account)
    assert len(account_mod._loaded) <= 8
    assert load_account(None) == Account()


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=70_000), erase=st.booleans(), fee=st.integers(0, 2**40))
def test_decode_tx_env_cuts_out_the_canonical_envelope(body: bytes, erase: bool, fee: int) -> None:
    tx = make_tx(KEYS[0], CHAIN, 3, "transfer", body, fee=fee)
    if erase:
        tx = erased(tx)
    got, env = decode_tx_env(encode_tx(tx), 100_000)
    assert got == tx
    assert env == encode(tx.envelope)


def test_sorted_changes_give_the_same_root() -> None:
    writes: dict[bytes, bytes | None] = {b"core/b": b"2", b"core/a": None, b"x/c": b"3"}
    prev = b"\x07" * 32
    fails = [(1, "bad_body", "no")]
    assert next_root(prev, sorted_changes(writes), fails) == next_root(prev, writes, fails)


def _items(n: int, bad: set[int]) -> tuple[list[bytes], list[tuple[bytes, bytes, bytes]]]:
    txs = [make_tx(KEYS[i % len(KEYS)], CHAIN, i + 1, "transfer", b"b") for i in range(n)]
    hashes = [tx_hash(t) for t in txs]
    items = [(t.envelope.sender, TX_DOMAIN + encode(t.envelope), t.signature) for t in txs]
    for i in bad:
        items[i] = (items[i][0], items[i][1], bytes(64))
    return hashes, items


def test_pack_and_verify_packed_agree_with_verify_chunk() -> None:
    _, items = _items(20, {3, 19})
    assert list(map(bool, verify_packed(pack(items)))) == verify_chunk(items)
    stopped = verify_packed(pack(items), 0, lambda i: i < 5)
    assert list(map(bool, stopped)) == verify_chunk(items[:5])


@pytest.mark.parametrize("processes", [0, 1])
def test_background_lane_takes_back_and_verifies_each_once(processes: int) -> None:
    hashes, items = _items(300, {5, 250})
    v = Verifier(threads=2, processes=processes)
    try:
        v.warm()
        v.submit(hashes, items)
        want = [i not in (5, 250) for i in range(300)]
        assert v.verify_many(hashes, items) == want  # at once: most are taken back
        assert 300 <= v.verified <= 302  # at most one twice at each cut
        assert v.verify_many(hashes, items) == want  # cached; the two bad ones again
        assert all(v.known(h) == good for h, good in zip(hashes, want, strict=True))
        v.submit(hashes[:10], items[:10])  # known or failed: nothing goes to the lane
        assert not v._inflight or all(h in (hashes[5],) for h in v._inflight)
    finally:
        v.close()


def test_a_dead_worker_process_is_not_a_wrong_answer() -> None:
    hashes, items = _items(400, {7})
    v = Verifier(threads=2, processes=1)
    try:
        v.warm()
        lane = v._procs
        assert lane is not None
        os.kill(lane.workers[0].proc.pid, signal.SIGKILL)
        lane.workers[0].proc.wait(10)
        v.submit(hashes, items)
        assert v.verify_many(hashes, items) == [i != 7 for i in range(400)]
        v.submit(hashes[:50], items[:50])  # the lane is gone: threads take over
        assert v.verify_many(hashes, items) == [i != 7 for i in range(400)]
    finally:
        v.close()


def test_a_prefetched_burst_is_admitted_like_a_plain_one(genesis: Genesis, users: Keys) -> None:
    to = bytes(users[5].verify_key)
    txs = [transfer(users[i % 4], i // 4 + 1, to) for i in range(40)]
    txs.append(msgspec.structs.replace(transfer(users[0], 11, to), signature=bytes(64)))
    txs.append(txs[0])  # a duplicate in the burst
    outs = []
    for mode in ("plain", "burst", "prefetch"):
        c = Chain.open(":memory:", genesis, verifier=Verifier(threads=2))
        try:
            m = c.mempool
            if mode == "plain":
                res = m.add_batch(txs)
            else:
                pairs = [decode_tx_env(encode_tx(t)) for t in txs]
                burst = m.stage([t for t, _ in pairs], [e for _, e in pairs])
                if mode == "prefetch":
                    m.settle(m.prefetch(burst))
                res = m.add_batch(burst)
            codes = [r if isinstance(r, bytes) else r.code for r in res]
            outs.append((codes, len(m), c.verifier.verified))
        finally:
            c.close()
            c.verifier.close()
    assert outs[0] == outs[1] == outs[2]
    codes, admitted, verified = outs[0]
    assert codes[-2:] == ["bad_signature", "duplicate_tx"]
    assert admitted == 40
    assert verified == 42  # once each, and the in-burst duplicate before it is seen


def test_blocks_from_a_process_lane_chain_have_the_same_roots(
    genesis: Genesis, vals: Keys, users: Keys
) -> None:
    to = bytes(users[5].verify_key)
    roots = []
    for processes in (0, 1):
        v = Verifier(threads=2, processes=processes)
        c = Chain.open(":memory:", genesis, verifier=v)
        d = Driver(c, vals)
        try:
            for n in range(1, 4):
                burst = c.mempool.prefetch([transfer(users[i], n, to) for i in range(4)])
                assert all(isinstance(r, bytes) for r in c.mempool.add_batch(burst))
                d.commit(d.propose())
            roots.append((c.height, c.state_root))
        finally:
            c.close()
            v.close()
    assert roots[0] == roots[1] and roots[0][0] == 3
    assert PARAMS.min_fee == 1
