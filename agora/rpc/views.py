"""The JSON shapes of the chain and network methods, and the converters that build them.

Bytes are lowercase hex, heights ints, times ms since the epoch. These structs
are the methods' result types, so `rpc_discover` describes each of them.
`verify_tx_proof` checks a `tx_get` answer on the client's side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from agora.blockchain.block import Block
from agora.blockchain.merkle import MerkleProof, verify_proof
from agora.blockchain.tx import Envelope, Tx, tx_hash
from agora.blockchain.votes import Commit, DuplicateVoteEvidence, Vote


class ValidatorView(msgspec.Struct, frozen=True):
    pub_key: str
    power: int


class ChainStatus(msgspec.Struct, frozen=True):
    """Where this node's chain is. `block_id` is the genesis hash at height 0."""

    chain_id: str
    height: int
    block_id: str
    time_ms: int  # of the last block (the genesis time at height 0)
    state_root: str  # after the last block
    genesis_hash: str
    validators: list[ValidatorView]
    total_power: int
    catching_up: bool | None  # None: this node does not say
    mempool_size: int | None


class TxView(msgspec.Struct, frozen=True):
    """A committed tx. `hash` = sha256(envelope bytes + signature); `body` is None once erased."""

    hash: str
    chain_id: str
    sender: str
    nonce: int
    kind: str
    body_hash: str
    fee: int
    expiry: int
    signature: str
    body: str | None
    code: str  # "ok", or why its module refused it (its fee was still charged)
    message: str


class VoteView(msgspec.Struct, frozen=True):
    chain_id: str
    height: int
    round: int
    type: int  # 1 prevote, 2 precommit
    block_id: str  # "" for a vote for no block
    validator: str
    signature: str


class EvidenceView(msgspec.Struct, frozen=True):
    """Two conflicting votes by one validator."""

    hash: str
    vote_a: VoteView
    vote_b: VoteView


class CommitSigView(msgspec.Struct, frozen=True):
    validator: str
    signature: str


class CommitView(msgspec.Struct, frozen=True):
    """+2/3 precommits for `block_id`. `canonical`: the one block height+1 carries (else the
    commit this node received, which is as valid but may hold other signatures)."""

    height: int
    round: int
    block_id: str
    signatures: list[CommitSigView]
    canonical: bool = True


class HeaderView(msgspec.Struct, frozen=True):
    chain_id: str
    height: int
    time_ms: int
    prev_hash: str
    tx_root: str
    state_root: str  # the root after blocks 1..height-1
    proposer: str
    validators_hash: str
    last_commit_hash: str
    evidence_hash: str


class BlockView(msgspec.Struct, frozen=True):
    id: str
    header: HeaderView
    txs: list[TxView]
    last_commit: CommitView | None  # None at height 1
    evidence: list[EvidenceView]


class TxProof(msgspec.Struct, frozen=True):
    """RFC 6962 audit path of leaf `index` among `size` tx hashes; `root` is the block's tx_root."""

    index: int
    size: int
    path: list[str]
    root: str


class TxInclusion(msgspec.Struct, frozen=True):
    tx: TxView
    height: int
    index: int
    block_id: str
    proof: TxProof


class SubmitResult(msgspec.Struct, frozen=True):
    hash: str


class AccountView(msgspec.Struct, frozen=True):
    """What a client needs to build the address's next tx, as of block `height`."""

    address: str
    balance: int
    nonce: int  # of its last committed tx (0 before any)
    next_nonce: int  # the nonce its next tx must carry (after its txs in the mempool, if known)
    pending: int | None  # its txs waiting in the mempool; None: this node does not say
    quota_left: float  # actions it may still take now
    quota_capacity: int  # actions per quota window at this balance
    height: int


class PeerView(msgspec.Struct, frozen=True):
    id: str
    addr: str  # the socket's remote address
    listen: str  # the address the peer advertised
    inbound: bool
    since_ms: int
    score: float
    rtt_ms: float | None


class PeerCounts(msgspec.Struct, frozen=True):
    total: int
    inbound: int
    outbound: int


class NetInfo(msgspec.Struct, frozen=True):
    node_id: str
    name: str
    network: str  # the chain id peers must share
    version: str  # Agora's
    protocol_version: int
    listen: dict[str, str]  # "p2p" and "rpc" addresses
    peers: PeerCounts
    bans: int
    addresses: int  # known in the address book


def _hex(b: bytes) -> str:
    return b.hex()


def tx_view(tx: Tx, code: str, message: str, h: bytes | None = None) -> TxView:
    e = tx.envelope
    return TxView(
        (h or tx_hash(tx)).hex(), e.chain_id, e.sender.hex(), e.nonce, e.kind,
        e.body_hash.hex(), e.fee, e.expiry, tx.signature.hex(),
        None if tx.body is None else tx.body.hex(), code, message,
    )  # fmt: skip


def vote_view(v: Vote) -> VoteView:
    return VoteView(
        v.chain_id, v.height, v.round, v.type, v.block_id.hex(), v.validator.hex(),
        v.signature.hex(),
    )  # fmt: skip


def evidence_view(ev: DuplicateVoteEvidence) -> EvidenceView:
    return EvidenceView(ev.hash().hex(), vote_view(ev.vote_a), vote_view(ev.vote_b))


def commit_view(c: Commit, canonical: bool = True) -> CommitView:
    sigs = [CommitSigView(s.validator.hex(), s.signature.hex()) for s in c.signatures]
    return CommitView(c.height, c.round, c.block_id.hex(), sigs, canonical)


def block_view(block: Block, results: Sequence[tuple[str, str]]) -> BlockView:
    """`results`: (code, message) of each tx, in block order."""
    h = block.header
    header = HeaderView(
        h.chain_id, h.height, h.time, _hex(h.prev_hash), _hex(h.tx_root), _hex(h.state_root),
        _hex(h.proposer), _hex(h.validators_hash), _hex(h.last_commit_hash),
        _hex(h.evidence_hash),
    )  # fmt: skip
    txs = [tx_view(t, c, m) for t, (c, m) in zip(block.txs, results, strict=True)]
    lc = None if block.last_commit is None else commit_view(block.last_commit)
    return BlockView(block.id().hex(), header, txs, lc, [evidence_view(e) for e in block.evidence])


def _unhex(s: Any) -> bytes:
    if not isinstance(s, str):
        raise ValueError("not a hex string")
    return bytes.fromhex(s)


def verify_tx_proof(
    answer: TxInclusion | dict[str, Any], tx_root: bytes | str | None = None
) -> bool:
    """True if a `tx_get` answer proves its tx is in the block whose tx_root is `tx_root`
    (a root from a header you trust; None: the answer's own `proof.root`). The tx hash is
    recomputed from the envelope fields and the signature, so the fields are checked too."""
    doc = msgspec.to_builtins(answer) if isinstance(answer, TxInclusion) else answer
    try:
        tx, proof = doc["tx"], doc["proof"]
        env = Envelope(
            tx["chain_id"], _unhex(tx["sender"]), tx["nonce"], tx["kind"],
            _unhex(tx["body_hash"]), tx["fee"], tx["expiry"],
        )  # fmt: skip
        h = tx_hash(Tx(env, _unhex(tx["signature"]), None))
        if h.hex() != str(tx["hash"]).lower():
            return False
        root = _unhex(proof["root"]) if tx_root is None else tx_root
        root = bytes.fromhex(root) if isinstance(root, str) else root
        path = [_unhex(p) for p in proof["path"]]
        mp = MerkleProof(int(proof["index"]), int(proof["size"]), path)
        if "index" in doc and doc["index"] != mp.index:
            return False
        return verify_proof(root, h, mp)
    except (KeyError, TypeError, ValueError):
        return False
