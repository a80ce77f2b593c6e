"""The client's encoders, keys and text rendering, run in the real browser (Debian's chromium)
and compared with the Python code the node runs: envelopes and every body kind byte for byte,
signatures that verify, keystores both ways, and post text that never becomes HTML."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import msgspec
import nacl.signing
import pytest
from web_util import browser, static_server

from agora.blockchain.core_module import Transfer
from agora.blockchain.kinds import tx_size
from agora.blockchain.tx import (
    Envelope,
    Tx,
    decode_tx,
    encode_tx,
    make_tx,
    sign_bytes,
    tx_hash,
)
from agora.codec import encode
from agora.errors import RemoteError
from agora.social import bodies as b
from agora.social import keystore
from agora.social.text import hashtags, mentions

pytestmark = pytest.mark.browser

INTS = [0, 1, 31, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1]
TEXTS = ["", "hello", "héllo wörld 🎉🎉", "line\nbreak\ttab", "a" * 31, "b" * 32, "c" * 300,
         "日本語のテキスト " * 40, "x" * 5000, "@alice #tag https://a.example/b?c=d"]  # fmt: skip


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with static_server() as url, browser() as br:
        ctx = br.new_context()
        pg = ctx.new_page()
        pg.goto(url + "/blank")
        yield pg
        ctx.close()


def rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def test_envelopes_are_the_python_bytes(page: Any) -> None:
    rng = random.Random(7)
    cases = []
    for i in range(60):
        env = Envelope(
            chain_id="".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-.")
                             for _ in range(rng.choice([1, 9, 31, 32, 64]))),
            sender=rand_bytes(rng, 32),
            nonce=INTS[i % len(INTS)],
            kind=rng.choice([*b.KINDS, "transfer"]),
            body_hash=rand_bytes(rng, 32),
            fee=rng.choice(INTS),
            expiry=rng.choice(INTS),
        )  # fmt: skip
        cases.append((env, {
            "chain_id": env.chain_id, "sender": env.sender.hex(), "nonce": str(env.nonce),
            "kind": env.kind, "body_hash": env.body_hash.hex(), "fee": str(env.fee),
            "expiry": str(env.expiry),
        }))  # fmt: skip
    got = page.evaluate(
        """async (cases) => {
             const tx = await import('/tx.js');
             const { hex } = await import('/util.js');
             return cases.map((c) => hex(tx.encodeEnvelope(c)));
           }""",
        [c for _, c in cases],
    )
    assert got == [encode(env).hex() for env, _ in cases]


def _body_cases(rng: random.Random) -> list[tuple[str, Any, dict[str, Any]]]:
    key = lambda: rand_bytes(rng, 32)  # noqa: E731
    out: list[tuple[str, Any, dict[str, Any]]] = []
    for i, text in enumerate(TEXTS):
        r, q = (key() if i % 2 else None), (key() if i % 3 == 0 else None)
        fields = {"text": text, "reply_to": r and r.hex(), "quote_of": q and q.hex()}
        out.append(("post", b.Post(text.encode(), r, q), fields))
        p = key()
        out.append(("edit", b.Edit(p, text.encode()), {"post": p.hex(), "text": text}))
        url = "https://x.example/a.png"
        prof = b.ProfileSet(text[:50].encode(), text.encode(), url.encode())
        out.append(
            ("profile_set", prof, {"display_name": text[:50], "bio": text, "avatar_url": url})
        )
    for kind in ("delete", "repost", "unrepost", "unreact"):
        p = key()
        out.append((kind, b.PostRef(p), {"post": p.hex()}))
    for reaction in ("like", "🎉", "👍🏽", "❤️"):
        p = key()
        out.append(("react", b.React(p, reaction), {"post": p.hex(), "reaction": reaction}))
    for kind in ("follow", "unfollow", "mute", "unmute", "block", "unblock"):
        k = key()
        out.append((kind, b.Target(k, ""), {"key": k.hex(), "handle": ""}))
        out.append((kind, b.Target(b"", "some_handle"), {"key": "", "handle": "some_handle"}))
    for handle in ("abc", "alice_2024", "x" * 20):
        out.append(("handle_register", b.HandleRegister(handle), {"handle": handle}))
        to = key()
        fields = {"handle": handle, "to": to.hex()}
        out.append(("handle_transfer", b.HandleTransfer(handle, to), fields))
    for amount in INTS[1:]:
        to = key()
        out.append(("transfer", Transfer(to, amount), {"to": to.hex(), "amount": str(amount)}))
    return out


def test_every_body_kind_is_the_python_bytes(page: Any) -> None:
    cases = _body_cases(random.Random(11))
    assert {k for k, _, _ in cases} == set(b.KINDS) | {"transfer"}
    got = page.evaluate(
        """async (cases) => {
             const tx = await import('/tx.js');
             const { hex } = await import('/util.js');
             return cases.map(([kind, fields]) => hex(tx.encodeBody(kind, fields)));
           }""",
        [[k, f] for k, _, f in cases],
    )
    assert got == [encode(body).hex() for _, body, _ in cases]


def _value(v: Any) -> Any:
    """A typed JSON form of a msgpack value for the page (ints as strings: beyond 2**53)."""
    if v is None:
        return ["nil"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, bytes):
        return ["bin", v.hex()]
    return ["arr", [_value(x) for x in v]]


def test_msgpack_boundaries_match_msgspec(page: Any) -> None:
    values: list[Any] = [*INTS, 2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769,
                         -(2**31), -(2**31) - 1, -(2**63), None, True, False,
                         *TEXTS, "z" * 255, "z" * 256, "z" * 65536, b"", b"\x00" * 255,
                         b"\x01" * 256, b"\x02" * 65536, [], [1] * 15, [1] * 16,
                         [0] * 65536, [1, [2, "x", None, b"\xff"]]]  # fmt: skip
    got = page.evaluate(
        """async (vals) => {
             const { encode } = await import('/msgpack.js');
             const { hex, unhex } = await import('/util.js');
             const conv = ([t, v]) => t === 'nil' ? null : t === 'int' ? BigInt(v)
               : t === 'bin' ? unhex(v) : t === 'arr' ? v.map(conv) : v;
             return vals.map((v) => hex(encode(conv(v))));
           }""",
        [_value(v) for v in values],
    )
    enc = msgspec.msgpack.Encoder()
    assert got == [enc.encode(v).hex() for v in values]


SEED = bytes(range(32))


def _import(page: Any, doc: dict[str, Any], passphrase: str) -> str:
    pub: str = page.evaluate(
        """async ([text, pw]) => {
             const keys = await import('/keys.js');
             window.__acct = await keys.importKeystore(text, pw);
             return window.__acct.pub;
           }""",
        [json.dumps(doc), passphrase],
    )
    return pub


@pytest.mark.parametrize("fee_per_byte", [0, 3])
def test_signed_tx_is_the_python_tx(page: Any, fee_per_byte: int) -> None:
    key = nacl.signing.SigningKey(SEED)
    pub = _import(page, keystore.encrypt(key, "pw", 1000), "pw")
    assert pub == bytes(key.verify_key).hex()
    text = "signed in the browser ✓ #web"
    reply = bytes(range(100, 132))
    got = page.evaluate(
        """async ([reply, fpb]) => {
             const tx = await import('/tx.js');
             const { hex } = await import('/util.js');
             const text = 'signed in the browser ✓ #web';
             const body = tx.encodeBody('post', { text, reply_to: reply });
             const t = await tx.signTx(window.__acct, { chain_id: 'agora-web', nonce: 300,
                                                        kind: 'post', body, fee: 7,
                                                        fee_per_byte: fpb });
             return { bytes: hex(t.bytes), hash: t.hash };
           }""",
        [reply.hex(), fee_per_byte],
    )
    raw = encode(b.Post(text.encode(), reply, None))
    expect = make_tx(key, "agora-web", 300, "post", raw, fee=7)
    if fee_per_byte:  # the CLI's fixed point (agora/social/client.py)
        for _ in range(3):
            fee = 7 + fee_per_byte * tx_size(encode(expect.envelope), expect)
            if fee == expect.envelope.fee:
                break
            expect = make_tx(key, "agora-web", 300, "post", raw, fee=fee)
        assert expect.envelope.fee > 7
    data = bytes.fromhex(got["bytes"])
    assert data == encode_tx(expect)  # Ed25519 is deterministic: the very same bytes
    tx: Tx = decode_tx(data)
    assert got["hash"] == tx_hash(tx).hex()
    key.verify_key.verify(sign_bytes(encode(tx.envelope)), tx.signature)


def test_keystore_known_answer_and_both_directions(page: Any) -> None:
    got = page.evaluate(
        """async () => {
             const keys = await import('/keys.js');
             const { unhex } = await import('/util.js');
             const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
             const pub = unhex('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8');
             const zeros = (n) => new Uint8Array(n);
             return keys.encryptKeystore(seed, pub, 'pw', 1000, zeros(16), zeros(12));
           }"""
    )
    assert got["ciphertext"] == (
        "1dee0331ddcc70148e5895a3390d999b321f7486e259cd6b74a3643034b5d442"
        "21078b3d1de9400a393cf5269ae4227c"
    )
    assert bytes(keystore.decrypt(got, "pw")) == SEED
    # a key made in the browser (600,000 iterations, as a real one): the CLI reads its backup
    made = page.evaluate(
        """async () => {
             const keys = await import('/keys.js');
             const a = await keys.createAccount('pässphrase ✓');
             const stored = (await keys.listAccounts()).find((x) => x.pub === a.pub);
             let exported = 'no';
             try { await crypto.subtle.exportKey('pkcs8', stored.key); exported = 'yes'; }
             catch (e) { exported = e.name; }
             const sig = await keys.sign(stored, new TextEncoder().encode('hi'));
             return { pub: a.pub, file: keys.exportKeystore(stored),
                      fields: Object.keys(stored).sort(),
                      extractable: stored.key.extractable, exported, usages: stored.key.usages,
                      sig: [...sig].map((x) => x.toString(16).padStart(2, '0')).join('') };
           }"""
    )
    doc = json.loads(made["file"])
    assert doc["iterations"] == keystore.ITERATIONS
    k = keystore.decrypt(doc, "pässphrase ✓")
    assert bytes(k.verify_key).hex() == made["pub"] == doc["pub_key"]
    assert made["extractable"] is False and made["exported"] == "InvalidAccessError"
    assert made["usages"] == ["sign"]
    assert made["fields"] == ["backup", "created_ms", "key", "pub"]  # no seed kept anywhere
    k.verify_key.verify(b"hi", bytes.fromhex(made["sig"]))


def _codes(page: Any, docs: list[Any], passphrase: str) -> list[str]:
    codes: list[str] = page.evaluate(
        """async ([docs, pw]) => {
             const keys = await import('/keys.js');
             const out = [];
             for (const d of docs) {
               try { await keys.decryptKeystore(d, pw); out.push('ok'); }
               catch (e) { out.push(e.code); }
             }
             return out;
           }""",
        [docs, passphrase],
    )
    return codes


def test_keystore_refusals_match_the_cli(page: Any) -> None:
    good = keystore.encrypt(nacl.signing.SigningKey(SEED), "pw", 1000)
    bad: list[Any] = [
        good, {**good, "version": 2}, {**good, "kdf": "scrypt"}, {**good, "iterations": 999},
        {**good, "iterations": 10**7 + 1}, {**good, "iterations": "1000"},
        {**good, "salt": good["salt"][:-2]}, {**good, "nonce": "zz" * 12},
        {**good, "ciphertext": good["ciphertext"][:-2]}, {**good, "pub_key": "00" * 32},
        [], "text",
    ]  # fmt: skip

    def py(doc: Any, pw: str) -> str:
        try:
            keystore.decrypt(doc, pw)
            return "ok"
        except RemoteError as e:
            return e.code

    assert _codes(page, bad, "pw") == [py(d, "pw") for d in bad]
    assert _codes(page, [good], "wrong") == ["wrong_passphrase"] == [py(good, "wrong")]
    assert _codes(page, bad, "pw")[:2] == ["ok", "bad_keystore"]


RENDER_JS = """async (texts) => {
  const { richText } = await import('/text.js');
  return texts.map((t) => {
    const box = document.createElement('p');
    box.append(richText(t));
    document.body.append(box);
    const nodes = [...box.childNodes].map((n) => n.nodeType === 3 ? ['#text', n.textContent]
      : [n.tagName, n.textContent, n.getAttribute('href'), n.className]);
    const out = { nodes, text: box.textContent, elements: box.querySelectorAll('*').length,
                  links: box.querySelectorAll('a').length };
    box.remove();
    return out;
  });
}"""


def test_post_text_never_becomes_html(page: Any) -> None:
    texts = [
        '<img src=x onerror="window.__xss=1">',
        "<script>window.__xss=2</script><b>bold</b>",
        "javascript:alert(1) and data:text/html,<p>x</p>",
        'see https://a.example/x?y=1&z="2"). <svg onload=window.__xss=3>',
    ]
    got = page.evaluate(RENDER_JS, texts)
    for text, g in zip(texts, got, strict=True):
        assert g["text"] == text  # every character shown, as text
        assert all(n[0] in ("#text", "A") for n in g["nodes"])
        assert g["elements"] == g["links"]
    assert got[0]["links"] == got[1]["links"] == got[2]["links"] == 0
    assert got[3]["nodes"][1][:3] == [
        "A",
        "https://a.example/x?y=1&z=",
        "https://a.example/x?y=1&z=",
    ]
    assert page.evaluate("() => window.__xss") is None


def test_mentions_and_hashtags_link_what_the_node_parses(page: Any) -> None:
    texts = [
        "@alice and @bob_2 said #hello #World_2024 #123 #_x",
        "mail a@b.example or @@x @al or @toolongtoolongtoolong_handle",
        "x#1 &#39; #ok, (@carol) #über #日本 end.",
        "#a#b @dave@eve @frank_",
    ]
    got = page.evaluate(RENDER_JS, texts)
    for text, g in zip(texts, got, strict=True):
        ments = [n[2].removeprefix("/u/@") for n in g["nodes"] if n[0] == "A" and n[3] == "mention"]
        tags = [n[2].removeprefix("/tag/") for n in g["nodes"] if n[0] == "A" and n[3] == "hashtag"]
        from urllib.parse import unquote

        assert list(dict.fromkeys(ments)) == mentions(text), text
        assert list(dict.fromkeys(unquote(t) for t in tags)) == hashtags(text), text


SCROLL_JS = """async () => {
  const { infiniteList } = await import('/views/common.js');
  window.__asked = [];
  const list = infiniteList({
    label: 'Numbers',
    load: async (cursor) => {
      window.__asked.push(cursor);
      const page = cursor === null ? 0 : Number(cursor);
      const items = Array.from({ length: 30 }, (_, i) => page * 30 + i);
      return { items, cursor: page < 2 ? String(page + 1) : null };
    },
    render: (n) => {
      const el = document.createElement('article');
      el.style.height = '60px';
      el.textContent = `item ${n}`;
      return el;
    },
  });
  document.body.append(list.el);
}"""


def test_lists_load_older_pages_as_the_end_comes_into_view(page: Any) -> None:
    page.set_viewport_size({"width": 800, "height": 600})
    page.evaluate(SCROLL_JS)
    page.wait_for_function("() => document.querySelectorAll('article').length === 30")
    assert page.evaluate("() => window.__asked") == [None]  # only what fills the screen
    for _ in range(10):  # bounded: three pages at most
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(150)
        if page.evaluate("() => document.querySelectorAll('article').length") == 90:
            break
    page.wait_for_selector("text=You reached the end.")
    texts = page.eval_on_selector_all("article", "els => els.map(e => e.textContent)")
    assert texts == [f"item {n}" for n in range(90)]
    assert page.evaluate("() => window.__asked") == [None, "1", "2"]
    assert page.is_hidden("button.more")
