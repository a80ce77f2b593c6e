"""Accepted RPC txs wait in the gossip outbox until a batch is full or it is flushed."""

from collections.abc import Sequence

import nacl.signing
import pytest
from bc_util import transfer

from agora.blockchain import txgossip
from agora.blockchain.chain import Chain
from agora.blockchain.messages import SubmitTx, SubmitTxs
from agora.blockchain.tx import decode_tx, tx_hash
from agora.blockchain.txgossip import TxGossip
from agora.blockchain.wire import decode_tx_batch
from agora.codec import encode
from agora.peer_net.handlers import AppCode
from agora.peer_net.messages import Broadcast

Keys = list[nacl.signing.SigningKey]


def _raw(users: Keys, n: int, **kw: int) -> bytes:
    return encode(transfer(users[0], n, bytes(users[5].verify_key), **kw))


def _bodies(cmds: Sequence[object]) -> list[list[bytes]]:
    out = []
    for c in cmds:
        assert isinstance(c, Broadcast) and c.code == AppCode.TX_GOSSIP and c.exclude is None
        out.append(decode_tx_batch(c.body))
    return out


def _batch(ticket: int, raws: list[bytes]) -> SubmitTxs:
    return SubmitTxs(ticket, [decode_tx(r, 1 << 20) for r in raws], raws)


def test_small_rpc_batches_share_one_gossip_batch_at_the_flush(chain: Chain, users: Keys) -> None:
    g = TxGossip(chain)
    raws = [_raw(users, n) for n in (1, 2, 3)]
    answers, cmds = g.submitted([_batch(1, raws[:1])])
    assert cmds == [] and g.pending and answers[0][1] == [transfer_hash(raws[0])]
    answers, cmds = g.submitted([_batch(2, [*raws[1:], raws[0]])])
    assert cmds == []
    got = answers[0][1]
    assert isinstance(got, list) and not isinstance(got[2], str)  # the duplicate: refused
    assert _bodies(g.flush()) == [raws]
    assert not g.pending and g.flush() == []


def test_a_lone_submission_flushes_the_outbox_at_once(chain: Chain, users: Keys) -> None:
    g = TxGossip(chain)
    raws = [_raw(users, n) for n in (1, 2, 3)]
    assert g.submitted([_batch(1, raws[:2])])[1] == []
    answers, cmds = g.submitted([SubmitTx(2, raws[2])])
    assert answers == [(2, transfer_hash(raws[2]))]
    assert _bodies(cmds) == [raws]
    assert not g.pending


def test_full_batches_leave_at_once_and_the_rest_waits(
    chain: Chain, users: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [_raw(users, n) for n in range(1, 8)]
    assert len({len(r) for r in raws}) == 1
    monkeypatch.setattr(txgossip, "MAX_GOSSIP_BYTES", 3 * (len(raws[0]) + 5))
    g = TxGossip(chain)
    answers, cmds = g.submitted([_batch(1, raws)])
    assert answers == [(1, [transfer_hash(r) for r in raws])]
    assert _bodies(cmds) == [raws[0:3], raws[3:6]]  # two full batches now
    assert g.pending
    assert _bodies(g.flush()) == [raws[6:]]


def transfer_hash(raw: bytes) -> str:
    return tx_hash(decode_tx(raw, 1 << 20)).hex()
