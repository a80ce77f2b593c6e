"""`Chain`: the single writer, owned by the blockchain actor.

It builds blocks from the mempool, validates proposals without writing, and
commits a block (execution, storage, tx results, module index rows) in one
SQLite transaction; after a crash it opens at the last committed block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agora.blockchain.block import (
    Block,
    Header,
    decode_commit,
    encode_block,
    evidence_hash,
    last_commit_hash,
    tx_root,
)
from agora.blockchain.core_module import CoreModule
from agora.blockchain.executor import (
    Charged,
    Prepared,
    charge_block,
    execute,
    genesis_writes,
    prepare,
)
from agora.blockchain.genesis import Genesis, check_genesis
from agora.blockchain.kinds import Registry
from agora.blockchain.mempool import Mempool
from agora.blockchain.module import Event, Module, StateView
from agora.blockchain.schema import migrate
from agora.blockchain.sigs import Verifier
from agora.blockchain.state import next_root, sorted_changes
from agora.blockchain.store import Head, Store
from agora.blockchain.tx import Tx, TxError, decode_tx
from agora.blockchain.validate import check_header
from agora.blockchain.votes import Commit, DuplicateVoteEvidence, ValidatorSet
from agora.codec import encode
from agora.errors import LocalError, RemoteError
from agora.logs import Log

log = Log("agora.blockchain")


@dataclass
class CommitResult:
    height: int
    block_id: bytes
    state_root: bytes  # after this block; goes into the header of the next one
    tx_hashes: list[bytes]
    results: list[tuple[str, str]]  # (code, message) per tx
    events: list[Event] = field(default_factory=list)
    erased: int = 0


class Chain:
    def __init__(
        self, store: Store, genesis: Genesis, registry: Registry, verifier: Verifier
    ) -> None:
        self.store = store
        self.genesis = genesis
        self.registry = registry
        self.verifier = verifier
        self.valset = ValidatorSet(genesis.validators)
        # The last block built or validated: whether erased bodies were allowed, and
        # phase 1's result for the current state.
        self._prepared: tuple[Prepared, bool, Charged | None] | None = None
        self._own_verifier = False
        head = store.head()
        assert head is not None
        self._head: Head = head
        self.mempool = Mempool(registry, verifier, self.view)

    @classmethod
    def open(
        cls,
        path: Path | str,
        genesis: Genesis,
        modules: Sequence[Module] = (),
        *,
        synchronous: str = "FULL",
        verifier: Verifier | None = None,
    ) -> Chain:
        """Open (or create) the store at `path` (":memory:" allowed) at its last block.

        The core module is always there, first; `modules` add their kinds and tables."""
        check_genesis(genesis)
        mods: list[Module] = [CoreModule(), *(m for m in modules if m.name != "core")]
        registry = Registry(genesis, mods)
        store = Store(path, synchronous)
        try:
            for m in mods:
                migrate(store.conn, m.name, m.migrations)
            ghash = store.info("genesis_hash")
            if ghash is None:
                store.begin()
                writes = genesis_writes(genesis, registry, store.state.get, store.conn)
                root0 = next_root(genesis.hash(), writes, [])
                store.write_genesis(genesis.hash(), genesis.genesis_time, root0, writes)
                store.commit()
                store.state.committed(writes)
            elif ghash != genesis.hash():
                raise LocalError("the store belongs to another genesis", code="genesis_mismatch")
        except BaseException:
            store.close()
            raise
        chain = cls(store, genesis, registry, verifier or Verifier())
        chain._own_verifier = verifier is None
        log.info("chain_open", height=chain.height, root=chain.state_root.hex()[:16])
        return chain

    # --- where we are

    @property
    def height(self) -> int:
        return self._head.height

    @property
    def last_block_id(self) -> bytes:
        return self._head.block_id

    @property
    def state_root(self) -> bytes:
        return self._head.state_root

    @property
    def time_ms(self) -> int:
        return self._head.time_ms

    def view(self) -> StateView:
        """The committed state, as the next block will see it (for mempool checks)."""
        return StateView(
            self.store.state.get, self.store.conn, self.genesis, self.height + 1, self.time_ms
        )

    def seen_commit(self, height: int) -> Commit | None:
        """The commit stored with block `height` (e.g. the last commit for the next
        proposal after a restart)."""
        q = "SELECT seen_commit FROM blocks WHERE height = ?"
        row = self.store.conn.execute(q, (height,)).fetchone()
        return None if row is None else decode_commit(row[0])

    def decode_tx(self, data: bytes | bytearray | memoryview) -> Tx:
        """Strict decoding plus the stateless checks (kind, body, size, fee)."""
        tx = decode_tx(data, self.genesis.params.max_tx_bytes)
        self.registry.check(tx, encode(tx.envelope))
        return tx

    # --- blocks

    def build_block(
        self,
        time_ms: int,
        proposer: bytes,
        last_commit: Commit | None,
        evidence: list[DuplicateVoteEvidence] | None = None,
    ) -> Block:
        """A proposal from the mempool, within the block limits; every tx in it passes
        phase 1 against the current state (those that would not are left out)."""
        from agora.blockchain.builder import select_txs

        evidence = evidence or []
        entries, charged = select_txs(self, time_ms, proposer, last_commit, evidence)
        hashes = [e.hash for e in entries]
        header = Header(
            self.genesis.chain_id,
            self.height + 1,
            time_ms,
            self.last_block_id,
            tx_root(hashes),
            self.state_root,
            proposer,
            self.valset.hash,
            last_commit_hash(last_commit),
            evidence_hash(evidence),
        )
        block = Block(header, [e.tx for e in entries], last_commit, evidence)
        # The mempool already checked and verified these: no need to do it again.
        p = Prepared(
            block,
            header.id(),
            hashes,
            [e.env_bytes for e in entries],
            [e.reg for e in entries],
            [e.body for e in entries],
        )
        self._prepared = (p, False, charged)
        return block

    def validate_block(
        self, block: Block, *, now_ms: int | None = None, size: int | None = None
    ) -> None:
        """Raise RemoteError (with a specific code) unless `block` may follow ours.
        Writes nothing. `size`: the length of the canonical bytes `block` was decoded
        from, if the caller has them (spares encoding it again to measure it)."""
        self._validate(block, now_ms=now_ms, allow_erased=False, size=size)

    def _validate(
        self, block: Block, *, now_ms: int | None, allow_erased: bool, size: int | None = None
    ) -> tuple[Prepared, Charged]:
        check_header(self, block, now_ms)
        cached = self._prepared
        if (
            cached is not None
            and cached[0].block_id == block.id()
            and cached[0].block.height == self.height + 1
            and (allow_erased or not cached[1])
        ):
            p, loose, charged = cached
        else:
            if size is None:
                size = len(encode_block(block))
            if size > self.genesis.params.max_block_bytes:
                raise RemoteError("block over max_block_bytes", code="block_too_large", penalty=100)
            pooled = self.mempool.by_hash
            p = prepare(
                block, self.registry, self.verifier, allow_erased=allow_erased, pooled=pooled
            )
            loose, charged = allow_erased, None
        if charged is None:
            charged = charge_block(p, self.registry, self.store.state.get, self.time_ms)
        self._prepared = (p, loose, charged)
        return p, charged

    def commit_block(self, block: Block, commit: Commit) -> CommitResult:
        """Execute and store `block` with the `commit` that made it final, atomically.
        A block synced from peers may carry erased bodies: its commit vouches for it."""
        if commit.height != block.height or commit.block_id != block.id():
            raise RemoteError("the commit is for another block", code="bad_commit", penalty=100)
        commit.verify(self.genesis.chain_id, self.valset)
        p, charged = self._validate(block, now_ms=None, allow_erased=True)
        store = self.store
        store.begin()
        try:
            out = execute(p, self.registry, self.genesis, store.state.get, store.conn, charged)
            changes = sorted_changes(out.writes)
            root = next_root(self.state_root, changes, out.failures)
            store.write_block(
                p.block, p.block_id, p.hashes, p.envelopes, commit, root, changes, out.results
            )
            erased = store.erase_bodies(out.erasures, self.registry.erasable)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        store.state.committed(out.writes)
        self._head = Head(block.height, p.block_id, root, block.header.time)
        self._prepared = None
        if erased:
            store.checkpoint()
        self.mempool.update(p.hashes)
        return CommitResult(
            block.height, p.block_id, root, p.hashes, out.results, out.events, erased
        )

    def close(self) -> None:
        if self._own_verifier:
            self.verifier.close()
        self.store.close()


__all__ = ["Chain", "CommitResult", "TxError"]
