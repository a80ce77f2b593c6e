import nacl.signing
import pytest

from agora.blockchain.votes import (
    Commit,
    CommitSig,
    Validator,
    ValidatorSet,
    VoteType,
    make_commit,
    sign_vote,
)
from agora.codec import Codec, encode
from agora.errors import RemoteError

CHAIN = "agora-test"


def _keys(n: int) -> list[nacl.signing.SigningKey]:
    return [nacl.signing.SigningKey(bytes([i + 1]) * 32) for i in range(n)]


def _valset(keys: list[nacl.signing.SigningKey]) -> ValidatorSet:
    return ValidatorSet(Validator(bytes(k.verify_key), 10) for k in keys)


def test_quorum_is_more_than_two_thirds() -> None:
    vs = _valset(_keys(4))
    assert vs.total_power == 40
    assert vs.quorum == 27


def test_vote_roundtrip_and_signature() -> None:
    k = _keys(1)[0]
    v = sign_vote(k, CHAIN, 5, 0, VoteType.PREVOTE, b"\x01" * 32)
    assert v.verify()
    data = encode(v)
    assert Codec(type(v), 1024).decode(data) == v
    forged = type(v)(CHAIN, 6, 0, VoteType.PREVOTE, b"\x01" * 32, v.validator, v.signature)
    assert not forged.verify()


def test_commit_needs_quorum_and_valid_sorted_signatures() -> None:
    keys = _keys(4)
    vs = _valset(keys)
    bid = b"\x07" * 32
    votes = [sign_vote(k, CHAIN, 3, 1, VoteType.PRECOMMIT, bid) for k in keys]
    make_commit(votes[:3]).verify(CHAIN, vs)
    with pytest.raises(RemoteError) as e:
        make_commit(votes[:2]).verify(CHAIN, vs)
    assert e.value.code == "commit_without_quorum"
    good = make_commit(votes)
    unsorted = Commit(3, 1, bid, list(reversed(good.signatures)))
    with pytest.raises(RemoteError) as e:
        unsorted.verify(CHAIN, vs)
    assert e.value.code == "bad_commit"
    bad_sig = Commit(3, 1, bid, [CommitSig(s.validator, b"\x00" * 64) for s in good.signatures])
    with pytest.raises(RemoteError):
        bad_sig.verify(CHAIN, vs)
    with pytest.raises(RemoteError):
        good.verify("other-chain", vs)


def test_codec_rejects_non_canonical_and_trailing() -> None:
    codec = Codec(Validator, 100)
    v = Validator(b"\x01" * 32, 5)
    data = encode(v)
    for bad in (data + b"\x00", data[:-1], b"\xc1", b"\x92\xc4\x20" + b"\x01" * 32 + b"\xcc\x05"):
        with pytest.raises(RemoteError) as e:
            codec.decode(bad)
        assert e.value.code in {"undecodable", "invalid_value", "non_canonical"}
    with pytest.raises(RemoteError) as e:
        Codec(Validator, 10).decode(data)
    assert e.value.code == "oversize"


def test_duplicate_vote_evidence() -> None:
    from agora.blockchain.votes import make_evidence

    keys = _keys(4)
    vs = _valset(keys)
    v1 = sign_vote(keys[0], CHAIN, 2, 0, VoteType.PREVOTE, b"\x01" * 32)
    v2 = sign_vote(keys[0], CHAIN, 2, 0, VoteType.PREVOTE, b"\x02" * 32)
    ev = make_evidence(v2, v1)
    ev.verify(CHAIN, vs)
    other_round = sign_vote(keys[0], CHAIN, 2, 1, VoteType.PREVOTE, b"\x02" * 32)
    with pytest.raises(RemoteError) as e:
        make_evidence(v1, other_round).verify(CHAIN, vs)
    assert e.value.code == "bad_evidence"
    with pytest.raises(RemoteError):
        make_evidence(v1, v1).verify(CHAIN, vs)
