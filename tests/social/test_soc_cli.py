"""The CLI against an in-process node on loopback; the keystore format."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from click.testing import CliRunner, Result
from social_server import node
from social_util import Net

from agora.cli import main
from agora.errors import RemoteError
from agora.social import keystore
from agora.social.client import RpcClient, default_rpc


@pytest.fixture
def url(net: Net) -> Iterator[str]:
    with node(net) as u:
        yield u


def run(url: str, home: Path, who: str, *args: str, ok: bool = True, pw: str = "pw") -> Result:
    env = {"AGORA_KEYSTORE": str(home / f"{who}.json"), "AGORA_PASSPHRASE": pw, "AGORA_RPC": url}
    res = CliRunner().invoke(main, list(args), env=env)
    if ok:
        assert res.exit_code == 0, (args, res.output, res.exception)
    return res


def state(url: str, method: str, **params: Any) -> Any:
    return RpcClient(url).call(method, params)


def test_a_user_does_everything_with_the_cli(url: str, tmp_path: Path) -> None:
    home = tmp_path
    keys = {}
    for who in ("alice", "bob"):
        out = run(url, home, who, "account", "new", "--iterations", "2000").output
        keys[who] = json.loads((home / f"{who}.json").read_text())["pub_key"]
        assert keys[who] in out
        assert "ok" in run(url, home, who, "account", "fund", "--amount", "5000").output
        run(url, home, who, "handle", "register", who)
    assert state(url, "social_getAccount", account="@alice")["balance"] == 5000 - 100
    run(url, home, "bob", "account", "send", "@alice", "250")
    assert state(url, "social_getAccount", account="@alice")["balance"] == 5000 - 100 + 250
    res = run(url, home, "bob", "account", "send", keys["alice"], "10" + "0" * 9, ok=False)
    assert res.exit_code == 1 and "insufficient" in res.output, res.output
    run(url, home, "alice", "profile", "set", "--name", "Alice", "--bio", "Writes #poems")
    assert "Writes #poems" in run(url, home, "bob", "profile", "@alice").output
    run(url, home, "bob", "follow", "@alice")
    run(url, home, "alice", "post", "first poem #verse @bob [b]not markup[/b]")
    post = state(url, "social_getPosts", account="alice")["items"][0]["id"]
    run(url, home, "bob", "reply", post, "lovely")
    run(url, home, "bob", "quote", post, "quoting alice")
    run(url, home, "bob", "like", post)
    run(url, home, "bob", "repost", post)
    feed = run(url, home, "bob", "feed").output
    assert "first poem" in feed and "reposted" in feed and "lovely" in feed
    assert "[b]not markup[/b]" in feed
    assert "lovely" in run(url, home, "alice", "thread", post).output
    assert "first poem" in run(url, home, "bob", "search", "poem").output
    assert "#verse" in run(url, home, "bob", "search", "ver", "--in", "hashtags").output
    assert "@alice" in run(url, home, "bob", "search", "ali", "--in", "profiles").output
    notes = run(url, home, "alice", "notifications").output
    for kind in ("reply", "quote", "reaction like", "repost", "follow"):
        assert kind in notes, kind
    assert "mention" in run(url, home, "bob", "notifications").output
    assert "verse" in run(url, home, "bob", "trending").output
    run(url, home, "alice", "edit", post, "first poem, revised")
    shown = run(url, home, "bob", "show", post).output
    assert "edit history" in shown and "revised" in shown
    # Refusals come back with their code and exit status 1.
    res = run(url, home, "bob", "edit", post, "not mine", ok=False)
    assert res.exit_code == 1 and "not_author" in res.output
    res = run(url, home, "bob", "follow", "@bob", ok=False)
    assert "follow_self" in res.output
    res = run(url, home, "bob", "follow", "@nobody", ok=False)
    assert "unknown_handle" in res.output
    run(url, home, "alice", "mute", "@bob")
    run(url, home, "alice", "unmute", "@bob")
    run(url, home, "alice", "block", "@bob")
    res = run(url, home, "bob", "reply", post, "blocked reply", ok=False)
    assert "blocked" in res.output
    run(url, home, "alice", "unblock", "@bob")
    run(url, home, "bob", "unlike", post)
    run(url, home, "bob", "unrepost", post)
    run(url, home, "alice", "delete", post)
    assert "(deleted)" in run(url, home, "bob", "show", post).output
    assert "first poem" not in run(url, home, "bob", "search", "poem").output
    assert "followers" in run(url, home, "bob", "followers", "@alice").output
    out = run(url, home, "bob", "account", "show").output
    assert keys["bob"] in out and "bob" in out
    # A wrong passphrase signs nothing.
    res = run(url, home, "bob", "post", "hi", ok=False, pw="nope")
    assert res.exit_code == 1 and "wrong_passphrase" in res.output


def test_default_rpc_reads_the_devnet_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGORA_RPC", raising=False)
    assert default_rpc(tmp_path) == "http://127.0.0.1:26657"
    (tmp_path / "devnet").mkdir()
    nodes = [{"name": "node0", "home": "x", "p2p": "127.0.0.1:1", "rpc": "127.0.0.1:4242"}]
    (tmp_path / "devnet" / "nodes.json").write_text(json.dumps(nodes))
    assert default_rpc(tmp_path) == "http://127.0.0.1:4242"
    monkeypatch.setenv("AGORA_RPC", "http://h:1")
    assert default_rpc(tmp_path) == "http://h:1"


def test_keystore_roundtrip_and_refusals(tmp_path: Path) -> None:
    key = nacl.signing.SigningKey.generate()
    doc = keystore.encrypt(key, "correct horse ☃", iterations=1000)
    assert set(doc) == {
        "version", "kdf", "salt", "iterations", "cipher", "nonce", "ciphertext", "pub_key",
    }  # fmt: skip
    assert len(bytes.fromhex(doc["ciphertext"])) == 48
    path = tmp_path / "k" / "ks.json"
    keystore.save(path, doc)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    got = keystore.decrypt(keystore.load(path), "correct horse ☃")
    assert bytes(got) == bytes(key)
    with pytest.raises(RemoteError) as e:
        keystore.decrypt(doc, "wrong")
    assert e.value.code == "wrong_passphrase"
    other = bytes(nacl.signing.SigningKey.generate().verify_key).hex()
    for bad in (
        {**doc, "version": 2},
        {**doc, "kdf": "scrypt"},
        {**doc, "iterations": 10},
        {**doc, "iterations": True},
        {**doc, "salt": "zz"},
        {**doc, "nonce": "00"},
        [],
    ):
        with pytest.raises(RemoteError) as e:
            keystore.decrypt(bad, "correct horse ☃")
        assert e.value.code == "bad_keystore"
    # pub_key is authenticated (it is the AEAD's associated data).
    with pytest.raises(RemoteError) as e:
        keystore.decrypt({**doc, "pub_key": other}, "correct horse ☃")
    assert e.value.code == "wrong_passphrase"


def test_keystore_known_answer() -> None:
    """Pinned bytes (docs/social.md): seed 00..1f, passphrase "pw", zero salt and nonce,
    1000 iterations. A browser implementation must decrypt exactly this."""
    doc = {
        "version": 1, "kdf": "pbkdf2-sha256", "salt": "00" * 16, "iterations": 1000,
        "cipher": "aes-256-gcm", "nonce": "00" * 12, "ciphertext": KNOWN_CT, "pub_key": KNOWN_PUB,
    }  # fmt: skip
    assert bytes(keystore.decrypt(doc, "pw")) == bytes(range(32))


KNOWN_CT = (
    "1dee0331ddcc70148e5895a3390d999b321f7486e259cd6b74a3643034b5d442"
    "21078b3d1de9400a393cf5269ae4227c"
)
KNOWN_PUB = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"


def test_a_passphrase_file_that_is_not_text_and_a_bad_pub_key_are_refused_in_words(
    tmp_path: Path,
) -> None:
    ks = tmp_path / "k.json"
    pw = tmp_path / "pw"
    pw.write_bytes(b"\xff\xfe not utf-8")
    env = {"AGORA_KEYSTORE": str(ks), "AGORA_RPC": "http://127.0.0.1:9"}
    res = CliRunner().invoke(
        main, ["account", "new", "--passphrase-file", str(pw), "--iterations", "2000"], env=env
    )
    assert res.exit_code == 1 and "bad_passphrase" in res.output, res.output
    assert not ks.exists()
    pw.write_text("pw\n")
    res = CliRunner().invoke(
        main, ["account", "new", "--passphrase-file", str(pw), "--iterations", "2000"], env=env
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(ks.read_text())
    doc["pub_key"] = " " + doc["pub_key"][1:]  # 64 characters, not hex
    ks.write_text(json.dumps(doc))
    res = CliRunner().invoke(main, ["account", "show"], env=env)
    assert res.exit_code == 1 and "bad_keystore" in res.output, res.output
