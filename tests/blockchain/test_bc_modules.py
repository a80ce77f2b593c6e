"""The Module interface, with a small erasable-notes module like the social one will be."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from agora.blockchain.chain import Chain
from agora.blockchain.devchain import Driver
from agora.blockchain.genesis import Genesis
from agora.blockchain.module import ApplyContext, KindSpec, StateView
from agora.blockchain.reader import Reader
from agora.blockchain.tx import Key32, Tx, TxError, make_tx
from agora.codec import Canonical, encode

Keys = list[nacl.signing.SigningKey]


class Note(Canonical, frozen=True):
    text: str


class Unnote(Canonical, frozen=True):
    target: Key32


class NotesModule:
    name = "notes"
    kinds: Mapping[str, KindSpec] = {
        "note": KindSpec(Note, 200, erasable=True, quota_cost=1),
        "unnote": KindSpec(Unnote, 64, quota_cost=0),
    }
    migrations: Sequence[str] = (
        "CREATE TABLE notes_text (tx_hash BLOB PRIMARY KEY, text TEXT NOT NULL);",
        "CREATE INDEX notes_text_by_text ON notes_text (text);",
    )

    def check(self, tx: Tx, body: Any, state: StateView) -> None:
        if isinstance(body, Unnote):
            owner = state.get("notes", b"n/" + body.target)
            if owner != tx.envelope.sender:
                raise TxError("not_owner", "only the author may erase a note")

    def apply(self, tx: Tx, body: Any, ctx: ApplyContext) -> None:
        if tx.envelope.kind == "note":
            # In the root: only what the envelope says.
            ctx.put(b"n/" + ctx.tx_hash, tx.envelope.sender)
            if body is not None:
                ctx.db.execute("INSERT INTO notes_text VALUES (?, ?)", (ctx.tx_hash, body.text))
                ctx.emit("note", text=body.text)
                if body.text == "fail":
                    raise TxError("bad_body", "notes may not say fail")
        else:
            ctx.delete(b"n/" + body.target)
            ctx.db.execute("DELETE FROM notes_text WHERE tx_hash = ?", (body.target,))
            ctx.erase_body(body.target)

    def genesis(self, genesis: Genesis, ctx: ApplyContext) -> None:
        ctx.put(b"count", b"0")


def note(k: nacl.signing.SigningKey, nonce: int, text: str) -> Tx:
    return make_tx(k, "agora-test", nonce, "note", encode(Note(text)), fee=1)


def unnote(k: nacl.signing.SigningKey, nonce: int, target: bytes) -> Tx:
    return make_tx(k, "agora-test", nonce, "unnote", encode(Unnote(target)), fee=1)


def texts(c: Chain) -> list[str]:
    return [t for (t,) in c.store.conn.execute("SELECT text FROM notes_text ORDER BY text")]


def test_index_rows_roll_back_with_a_failed_tx(genesis: Genesis, vals: Keys, users: Keys) -> None:
    c = Chain.open(":memory:", genesis, [NotesModule()])
    d = Driver(c, vals)
    r = d.step([note(users[0], 1, "hello"), note(users[0], 2, "fail"), note(users[1], 1, "x")])
    assert [code for code, _ in r.results] == ["ok", "bad_body", "ok"]
    assert texts(c) == ["hello", "x"]
    assert [e.data["text"] for e in r.events] == ["hello", "x"]
    view = c.view()
    assert view.get("notes", b"n/" + r.tx_hashes[0]) == bytes(users[0].verify_key)
    assert view.get("notes", b"n/" + r.tx_hashes[1]) is None  # rolled back
    assert view.get("notes", b"count") == b"0"
    assert view.account(bytes(users[0].verify_key)).nonce == 2
    c.close()


def test_erase_then_sync_reaches_the_same_root(
    tmp_path: Path, genesis: Genesis, vals: Keys, users: Keys
) -> None:
    a = Chain.open(tmp_path / "a.db", genesis, [NotesModule()])
    d = Driver(a, vals)
    r1 = d.step([note(users[0], 1, "secret words")])
    target = r1.tx_hashes[0]
    with pytest.raises(TxError) as e:
        a.mempool.add(unnote(users[1], 1, target))
    assert e.value.code == "not_owner"
    r2 = d.step([unnote(users[0], 2, target)])
    assert r2.results == [("ok", "")] and r2.erased == 1
    assert texts(a) == []
    d.step()
    a.close()
    raw = (tmp_path / "a.db").read_bytes()
    assert b"secret words" not in raw
    wal = tmp_path / "a.db-wal"
    assert not wal.exists() or b"secret words" not in wal.read_bytes()

    reader = Reader.open(tmp_path / "a.db")
    blocks = [reader.get_block(h) for h in (1, 2, 3)]
    commits = [reader.get_commit(h) for h in (1, 2, 3)]
    info = reader.get_tx(target)
    assert info is not None and info.tx.body is None and info.code == "ok"
    assert blocks[0] is not None and blocks[0].txs[0].body is None
    # A node that syncs later gets the erased body as None and reaches the same root.
    b = Chain.open(tmp_path / "b.db", genesis, [NotesModule()])
    for blk, com in zip(blocks, commits, strict=True):
        assert blk is not None and com is not None
        b.commit_block(blk, com)
    assert b.state_root == reader.status().state_root
    # But a proposal must carry its bodies.
    reader.close()
    b.close()


def test_proposal_with_erased_body_is_refused(genesis: Genesis, vals: Keys, users: Keys) -> None:
    import msgspec

    from agora.blockchain.block import Block, tx_root
    from agora.blockchain.tx import erased, tx_hash

    c = Chain.open(":memory:", genesis, [NotesModule()])
    d = Driver(c, vals)
    t = erased(note(users[0], 1, "x"))
    b = d.propose()
    h = msgspec.structs.replace(b.header, tx_root=tx_root([tx_hash(t)]))
    block = Block(h, [t], None, [])
    with pytest.raises(Exception) as e:
        c.validate_block(block)
    assert getattr(e.value, "code", None) == "missing_body"
    c.close()


def test_migrations_are_versioned(tmp_path: Path, genesis: Genesis) -> None:
    c = Chain.open(tmp_path / "m.db", genesis, [NotesModule()])
    versions = dict(c.store.conn.execute("SELECT module, version FROM meta").fetchall())
    assert versions == {"chain": 3, "notes": 2}
    c.close()

    class Older(NotesModule):
        migrations = NotesModule.migrations[:1]

    from agora.errors import LocalError

    with pytest.raises(LocalError) as e:
        Chain.open(tmp_path / "m.db", genesis, [Older()])
    assert e.value.code == "schema_too_new"

    class Newer(NotesModule):
        migrations = (*NotesModule.migrations, "ALTER TABLE notes_text ADD COLUMN lang TEXT;")

    c = Chain.open(tmp_path / "m.db", genesis, [Newer()])
    assert ("lang",) in [(r[1],) for r in c.store.conn.execute("PRAGMA table_info(notes_text)")]
    c.close()


def test_duplicate_kinds_are_refused(genesis: Genesis) -> None:
    from agora.errors import LocalError

    class Clash(NotesModule):
        name = "clash"

    with pytest.raises(LocalError) as e:
        Chain.open(":memory:", genesis, [NotesModule(), Clash()])
    assert e.value.code == "bad_module"


def test_chain_v2_drops_the_sender_index_and_keeps_the_txs(tmp_path: Path) -> None:
    import sqlite3

    from agora.blockchain.schema import CHAIN_MIGRATIONS, migrate

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    assert migrate(conn, "chain", CHAIN_MIGRATIONS[:1]) == 1
    old_row = (1 << 20, 7, 8, 3, b"t", b"b")  # id, hkey, skey, nonce, tx, body
    conn.execute("INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?, 'ok', '')", old_row)
    assert migrate(conn, "chain", CHAIN_MIGRATIONS[:2]) == 2
    assert conn.execute("SELECT * FROM txs").fetchall() == [(1 << 20, 7, b"t", b"b", "ok", "")]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "txs_by_hash" in indexes and "txs_by_sender" not in indexes
    conn.close()
