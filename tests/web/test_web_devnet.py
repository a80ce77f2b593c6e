"""Two people in two browser contexts of Debian's chromium, each on its own node of a real
4-validator devnet (`agora node` processes on loopback), use the web client end to end:
accounts made in the browser and funded by the faucet, handles (one refused: taken), a
follow, a post that appears live in the follower's feed, reply, like, repost, quote, edit
(with its history), delete (gone for both, live), search by word and by hashtag, trending,
notifications, a post whose HTML stays text, the compose limit, the keyboard, a name on
every control, key backups read by the CLI and a CLI key imported in the browser; every
request goes to the page's own node. Screenshots of each main screen go to docs/screenshots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from web_util import DESKTOP, PHONE, browser, shot, unnamed_controls

from agora.social import keystore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from harness import Devnet

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

PASS = "correct horse ✓"
WORD = "qqzwebword"
WAIT = 30_000  # ms: any one step (a block is ~0.3 s; the machine may be busy)

# Records every state each pending-tx row shows, from the first paint on.
ROWS_JS = """
window.__rows = [];
document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('pending');
  new MutationObserver(() => {
    for (const r of box.querySelectorAll('[data-tx]')) {
      window.__rows.push([r.dataset.tx, r.dataset.state]);
    }
  }).observe(box, { subtree: true, childList: true, attributes: true });
});"""


class User:
    def __init__(self, br: Any, rpc: str, viewport: dict[str, int], name: str) -> None:
        self.origin = f"http://{rpc}"
        self.name = name
        self.ctx = br.new_context(viewport=viewport, accept_downloads=True)
        self.ctx.add_init_script(ROWS_JS)
        self.page = self.ctx.new_page()
        self.urls: list[str] = []
        self.errors: list[str] = []
        self.ctx.on("request", lambda r: self.urls.append(r.url))
        self.page.on("websocket", lambda ws: self.urls.append(ws.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def goto(self, path: str) -> None:
        self.page.goto(self.origin + path)
        self.page.wait_for_selector("main h1", timeout=WAIT)

    def nav(self, name: str) -> None:
        self.page.click(f"nav a[data-nav={name}]")
        self.page.wait_for_selector("main h1", timeout=WAIT)

    def final(self, tx: str) -> None:
        self.page.wait_for_function(
            "h => agora.txlog[h] === 'final' || agora.txlog[h] === 'failed'", arg=tx, timeout=WAIT
        )
        state = self.page.evaluate("h => agora.txlog[h]", tx)
        assert state == "final", f"{self.name}: tx {tx} {state}"

    def last_tx(self, before: str | None) -> str:
        self.page.wait_for_function(
            "b => agora.lastTx && agora.lastTx !== b", arg=before, timeout=WAIT
        )
        tx: str = self.page.evaluate("() => agora.lastTx")
        return tx

    def act(self, selector: str, key: str | None = None) -> str:
        """Click a control that sends a tx (or focus it and press `key`); wait until that tx
        is final; its hash."""
        before = self.page.evaluate("() => agora.lastTx")
        if key:
            self.page.focus(selector)
            self.page.keyboard.press(key)
        else:
            self.page.click(selector)
        tx = self.last_tx(before)
        self.final(tx)
        return tx

    def create(self) -> str:
        self.goto("/")
        assert self.page.url.endswith("/welcome")
        self.page.fill("#create-account input[name=passphrase]", PASS)
        self.page.fill("#create-account input[name=passphrase2]", PASS)
        self.page.click("#create-account button[type=submit]")
        self.page.wait_for_url("**/settings", timeout=WAIT)
        self.page.wait_for_selector("#my-key", timeout=WAIT)
        key: str = self.page.inner_text("#my-key")
        return key

    def fund(self) -> None:
        self.page.click("#faucet")
        self.page.wait_for_selector("text=Funded.", timeout=WAIT)

    def register(self, handle: str) -> str:
        form = self.page.locator("#handle-form")
        form.locator("input[name=handle]").fill(handle)
        form.locator("button[type=submit]").click()
        self.page.wait_for_function(
            "() => { const f = document.getElementById('handle-form');"
            " return f.querySelector('.ok').textContent"
            " || f.querySelector('.error').textContent; }",
            timeout=WAIT,
        )
        return form.locator(".ok").inner_text() or form.locator(".error").inner_text()

    def compose(self, text: str, *, button: str | None = None) -> str:
        """From a card's Reply/Quote/Edit button (or the nav), write and send; the tx hash."""
        before = self.page.evaluate("() => agora.lastTx")
        if button:
            self.page.click(button)
        else:
            self.nav("compose")
        self.page.wait_for_selector("#compose-text", timeout=WAIT)
        self.page.fill("#compose-text", text)
        self.page.click("form.compose button[type=submit]")
        return self.last_tx(before)

    def card(self, post: str) -> Any:
        return self.page.locator(f'article.post[data-post="{post}"]').first

    def check_screen(self, name: str | None = None) -> None:
        """No control without a name; no script error; optionally a screenshot."""
        self.page.wait_for_function(
            "() => !document.querySelector('[role=feed][aria-busy=true]')",
            timeout=WAIT,
        )
        assert unnamed_controls(self.page) == [], f"{self.name} {self.page.url}"
        assert self.errors == [], self.errors
        if name:
            shot(self.page, name)

    def own_requests_only(self) -> None:
        ws = self.origin.replace("http://", "ws://")
        allowed = (self.origin + "/", ws + "/", "blob:" + self.origin, "data:")
        assert self.urls and all(u.startswith(allowed) for u in self.urls), [
            u for u in self.urls if not u.startswith(allowed)
        ]


def test_two_people_use_the_web_client_on_a_real_devnet(tmp_path: Path) -> None:
    with Devnet(tmp_path / "net", 4, block_interval_ms=300) as net, browser() as br:
        net.start()
        net.wait_height(1, timeout=60)
        alice = User(br, net.nodes[0].rpc, DESKTOP, "alice")
        bob = User(br, net.nodes[1].rpc, PHONE, "bob")
        story(net, alice, bob, tmp_path)
        alice.own_requests_only()
        bob.own_requests_only()


def story(net: Devnet, alice: User, bob: User, tmp: Path) -> None:
    a_key = alice.create()
    bob.create()
    alice.fund()
    bob.fund()
    assert alice.register("alice") == "Registered."
    # a refused action says why, in words
    assert bob.register("alice") == "That handle is already taken."
    assert bob.register("bob") == "Registered."
    alice.page.fill("#profile input[name=name]", "Alice Example")
    alice.page.fill("#profile textarea[name=bio]", "Writes about #agoraweb. Ask @bob.")
    alice.page.click("#profile button[type=submit]")
    alice.page.wait_for_selector("#profile .ok:text('Saved.')", timeout=WAIT)
    alice.check_screen("settings")

    # bob follows alice, from her profile
    bob.goto("/u/@alice")
    bob.act("button:text('Follow')", key="Space")  # the keyboard reaches actions
    bob.page.wait_for_selector("button:text('Unfollow')", timeout=WAIT)
    bob.check_screen("profile-phone")
    # alice's navigation counts the new notification, live
    alice.page.wait_for_selector("#unread:not([hidden])", timeout=WAIT)
    assert int(alice.page.inner_text("#unread")) >= 1

    # bob's home feed is open; alice posts with the keyboard only
    bob.nav("home")
    bob.page.evaluate("() => { window.__same_page = true; }")
    alice.nav("home")
    reached = None
    for _ in range(40):
        alice.page.keyboard.press("Tab")
        reached = alice.page.evaluate("() => document.activeElement.textContent.trim()")
        if reached == "New post":
            break
    assert reached == "New post"
    outline = alice.page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    before = alice.page.evaluate("() => agora.lastTx")
    alice.page.keyboard.press("Enter")
    alice.page.wait_for_selector("#compose-text:focus", timeout=WAIT)
    alice.page.keyboard.type(f"Hello from the browser #agoraweb {WORD} https://agora.example/x")
    alice.check_screen("compose")
    alice.page.keyboard.press("Control+Enter")
    post = alice.last_tx(before)
    alice.final(post)
    # ... and it appears in bob's feed, live, without a reload
    bob.card(post).wait_for(timeout=WAIT)
    assert bob.page.evaluate("() => window.__same_page") is True
    assert WORD in bob.card(post).inner_text()
    assert bob.card(post).locator("a.hashtag").first.get_attribute("href") == "/tag/agoraweb"

    # bob likes (the pending tx is marked until final), reposts, replies, quotes
    like = bob.act(f'article.post[data-post="{post}"] button.like')
    states = [s for h, s in bob.page.evaluate("() => window.__rows") if h == like]
    assert states[0] == "pending" and states[-1] == "final"
    bob.act(f'article.post[data-post="{post}"] button.repost')
    bob.page.wait_for_selector(
        f'article.post[data-post="{post}"] button.like[aria-pressed=true]', timeout=WAIT
    )
    reply = bob.compose(
        "Welcome @alice, nice #agoraweb post",
        button=f'article.post[data-post="{post}"] button[aria-label^="Reply"]',
    )
    bob.final(reply)
    bob.page.wait_for_url(f"**/t/{post}", timeout=WAIT)
    bob.card(reply).wait_for(timeout=WAIT)
    bob.check_screen("thread-phone")
    bob.nav("home")
    quote = bob.compose(
        "Quoting this one", button=f'article.post[data-post="{post}"] button[aria-label^="Quote"]'
    )
    bob.final(quote)
    bob.card(quote).wait_for(timeout=WAIT)
    bob.check_screen("home-phone")

    # bob's connection drops; alice posts meanwhile; on reconnect his feed resumes from its
    # cursor and the missed post arrives (no reload, no gap)
    bob.page.evaluate("() => { const l = agora.client.live; l.closed = true; l.ws.close(); }")
    bob.page.wait_for_function("() => !agora.client.live.ws", timeout=WAIT)
    missed = alice.compose(f"posted while bob was away {WORD}")
    alice.final(missed)
    bob.page.wait_for_timeout(1000)
    assert bob.page.locator(f'article.post[data-post="{missed}"]').count() == 0
    bob.page.evaluate("() => { const l = agora.client.live; l.closed = false; l.open(); }")
    bob.card(missed).wait_for(timeout=WAIT)
    assert bob.page.evaluate("() => window.__same_page") is True

    # alice edits her post: its page shows the history
    alice.goto(f"/p/{post}")
    edit = alice.compose(
        f"Hello again from the browser #agoraweb {WORD} (edited)",
        button="button[aria-label='Edit the post']",
    )
    alice.final(edit)
    alice.page.wait_for_url(f"**/p/{post}", timeout=WAIT)
    alice.page.wait_for_function(
        "() => document.querySelectorAll('#history li').length === 2", timeout=WAIT
    )
    assert "(edited)" in alice.card(post).inner_text()
    alice.check_screen("post")

    # notifications: follow, reaction, repost, reply (a mention too), quote
    alice.nav("notifications")
    alice.page.wait_for_selector("article.note[data-kind=quote]", timeout=WAIT)
    kinds = set(
        alice.page.eval_on_selector_all("article.note", "els => els.map(e => e.dataset.kind)")
    )
    assert {"follow", "reaction", "repost", "reply", "quote"} <= kinds, kinds
    alice.check_screen("notifications")
    assert alice.page.is_hidden("#unread")

    # search by a word and by a hashtag; trending
    alice.nav("search")
    alice.page.fill("#search-q", WORD)
    alice.page.press("#search-q", "Enter")
    alice.card(post).wait_for(timeout=WAIT)
    alice.page.fill("#search-q", "#agoraweb")
    alice.page.press("#search-q", "Enter")
    alice.page.wait_for_url("**q=%23agoraweb**", timeout=WAIT)
    alice.card(post).wait_for(timeout=WAIT)
    alice.card(reply).wait_for(timeout=WAIT)
    alice.check_screen("search")
    alice.page.check("input[name=in][value=people]")
    alice.page.fill("#search-q", "bob")
    alice.page.press("#search-q", "Enter")
    alice.page.wait_for_selector("article.account a:text('@bob')", timeout=WAIT)
    alice.nav("trending")
    alice.page.wait_for_selector("article.tag a:text('#agoraweb')", timeout=WAIT)
    alice.check_screen("trending")
    alice.goto("/u/@alice/followers")
    alice.page.wait_for_selector("article.account a:has-text('@bob')", timeout=WAIT)
    alice.check_screen("followers")

    # the compose counter holds a post over max_post_chars
    alice.nav("compose")
    alice.page.fill("#compose-text", "y" * 1001)
    assert alice.page.is_disabled("form.compose button[type=submit]")
    assert "1 too many" in alice.page.inner_text("#compose-count")

    # alice deletes the post from her feed: it disappears for both, live
    alice.nav("home")
    alice.card(post).wait_for(timeout=WAIT)
    alice.check_screen("home-desktop")
    alice.page.click(f'article.post[data-post="{post}"] button[aria-label="Delete the post"]')
    alice.act("button[aria-label='Yes, delete the post']")
    for u in (alice, bob):
        u.page.wait_for_selector(
            f'article.post[data-post="{post}"]', state="detached", timeout=WAIT
        )
    assert bob.page.evaluate("() => window.__same_page") is True
    bob.nav("home")  # a fresh read agrees
    bob.card(quote).wait_for(timeout=WAIT)
    assert bob.page.locator(f'article.post[data-post="{post}"]').count() == 0

    # HTML in a post stays text, for both
    alice.nav("home")
    xss = alice.compose('<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>')
    alice.final(xss)
    bob.card(xss).wait_for(timeout=WAIT)
    for u in (alice, bob):
        c = u.card(xss)
        c.wait_for(timeout=WAIT)
        assert c.locator("img, script").count() == 0
        assert "<img src=x" in c.locator(".text").inner_text()
        assert u.page.evaluate("() => window.__xss") is None

    keys_both_ways(net, alice, a_key, bob, tmp)


def keys_both_ways(net: Devnet, alice: User, a_key: str, bob: User, tmp: Path) -> None:
    # alice's browser-made key: its backup is a keystore the CLI reads, and posts with
    alice.nav("settings")
    with alice.page.expect_download() as dl:
        alice.page.click("#export-key")
    path = tmp / "alice-key.json"
    dl.value.save_as(path)
    doc = json.loads(path.read_text())
    assert bytes(keystore.decrypt(doc, PASS).verify_key).hex() == a_key
    pw = tmp / "pw"
    pw.write_text(PASS)
    out = subprocess.run(
        [sys.executable, "-m", "agora", "post", f"from the CLI with a browser key {WORD}",
         "--rpc", f"http://{net.nodes[0].rpc}", "--keystore", str(path),
         "--passphrase-file", str(pw)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    bob.nav("home")
    bob.page.wait_for_selector(
        "article.post:has-text('from the CLI with a browser key')", timeout=WAIT
    )

    # a key made by the CLI, imported in a third browser on a third node, signs a post
    cli_key = nacl.signing.SigningKey.generate()
    kfile = tmp / "carol.json"
    keystore.save(kfile, keystore.encrypt(cli_key, "carol pw", 1000))
    carol = User(bob.ctx.browser, net.nodes[2].rpc, DESKTOP, "carol")
    carol.goto("/")
    carol.page.set_input_files("#import-account input[type=file]", str(kfile))
    carol.page.fill("#import-account input[name=passphrase]", "carol pw")
    carol.page.click("#import-account button[type=submit]")
    carol.page.wait_for_url("**/settings", timeout=WAIT)
    assert carol.page.inner_text("#my-key") == bytes(cli_key.verify_key).hex()
    tx = carol.compose("carol signs in the browser with a CLI key")
    carol.final(tx)
    res = net.nodes[3].call("social_getTxResult", {"hash": tx})
    assert res["code"] == "ok" and res["kind"] == "post"
    got = net.nodes[3].call("tx_get", {"hash": tx})
    assert got["tx"]["sender"] == bytes(cli_key.verify_key).hex()
    carol.own_requests_only()
