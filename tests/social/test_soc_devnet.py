"""The social application on a real 4-validator devnet (`agora node` processes on loopback):
several accounts act through RPC, every node answers every query alike, a delete leaves the
erased words in no node's database or WAL, and a WebSocket feed resumes after a reconnect
with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import FAUCET_LABEL, dev_signing_key
from agora.social import bodies as b
from agora.social.client import Actor, RpcClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

_tests = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_tests / "e2e"))
sys.path.insert(0, str(_tests / "rpc"))
harness: Any = importlib.import_module("harness")
rh: Any = importlib.import_module("rpc_helpers")

WORD = "qqxvzdevnetsecret"
USERS = ["alice", "bob", "carol", "dave"]


def _actors(url: str) -> dict[str, Actor]:
    c = RpcClient(url, timeout=10)
    faucet = Actor(c, dev_signing_key(FAUCET_LABEL))
    out = {}
    for i, name in enumerate(USERS):
        a = Actor(c, dev_signing_key(f"social-e2e-{i}", b"agora-test"))
        assert faucet.send("transfer", Transfer(a.pub, 10_000))["code"] == "ok"
        out[name] = a
    return out


def _ok(res: dict[str, Any]) -> bytes:
    assert res["code"] == "ok", res
    return bytes.fromhex(res["hash"])


def _files(home: Path) -> bytes:
    data = home / "data"
    return b"".join(p.read_bytes() for p in data.glob("chain.sqlite*") if p.suffix != ".lock")


def test_social_on_a_real_devnet(tmp_path: Path) -> None:
    with harness.Devnet(tmp_path / "net", 4, block_interval_ms=300) as net:
        net.start()
        net.wait_height(2, timeout=60)
        urls = [f"http://{n.rpc}" for n in net.nodes]
        who = _actors(urls[0])
        fee = who["alice"].info["handle_fee"]
        for name, a in who.items():
            _ok(a.send("handle_register", b.HandleRegister(name), extra_fee=fee))
        _ok(who["bob"].send("follow", b.Target(b"", "alice")))
        _ok(who["carol"].send("follow", b.Target(b"", "alice")))
        _ok(who["dave"].send("follow", b.Target(b"", "bob")))
        p = _ok(who["alice"].send("post", b.Post(f"hello #agora @bob {WORD}".encode())))
        r = _ok(who["bob"].send("post", b.Post(b"welcome", reply_to=p)))
        q = _ok(who["carol"].send("post", b.Post(b"quoting #agora", quote_of=p)))
        _ok(who["dave"].send("react", b.React(p, "like")))
        _ok(who["dave"].send("repost", b.PostRef(p)))
        _ok(who["alice"].send("edit", b.Edit(p, f"hello again {WORD}2 #agora".encode())))
        _ok(who["alice"].send("mute", b.Target(b"", "dave")))
        _ok(who["bob"].send("block", b.Target(b"", "dave")))
        bad = who["dave"].build("post", b.Post(b"hi bob", reply_to=r))
        with pytest.raises(Exception) as e:
            who["dave"].submit(bad)
        assert getattr(e.value, "code", "") == "blocked"
        net.wait_height(max(n.height() for n in net.nodes), timeout=60)  # none lags behind
        for h in net.nodes:
            assert WORD.encode() in _files(h.home)
        d = who["alice"].send("delete", b.PostRef(p))
        _ok(d)
        top = max(n.height() for n in net.nodes) + 2
        net.wait_height(top, timeout=60)
        clients = [RpcClient(u) for u in urls]
        queries: list[tuple[str, dict[str, Any]]] = [
            ("social_getFeed", {"account": "bob"}),
            ("social_getFeed", {"account": "carol"}),
            ("social_getNotifications", {"account": "alice"}),
            ("social_getNotifications", {"account": "bob"}),
            ("social_getThread", {"post": r.hex()}),
            ("social_getPost", {"post": q.hex()}),
            ("social_getPost", {"post": p.hex()}),
            ("social_getProfile", {"account": "alice", "viewer": "bob"}),
            ("social_searchPosts", {"query": "agora"}),
            ("social_getTrending", {}),
        ]
        for method, params in queries:
            answers = [c.call(method, params) for c in clients]
            assert all(a == answers[0] for a in answers), method
        assert clients[0].call("social_getPost", {"post": p.hex()})["post"]["deleted"]
        for n in net.nodes:
            assert WORD.encode() not in _files(n.home), n.name


def test_websocket_feed_resumes_after_reconnect(tmp_path: Path) -> None:
    with harness.Devnet(tmp_path / "net", 4, block_interval_ms=300) as net:
        net.start()
        net.wait_height(2, timeout=60)
        url = f"http://{net.nodes[1].rpc}"
        who = _actors(url)
        _ok(who["bob"].send("follow", b.Target(who["alice"].pub)))
        host, port = net.nodes[2].rpc.rsplit(":", 1)
        addr = (host, int(port))
        sent: list[str] = []

        def post(i: int) -> None:
            """Alice posts; wait until it is committed, so each post is its own item."""
            _ok(who["alice"].send("post", b.Post(f"note {i}".encode())))
            sent.append(f"note {i}")

        async def go() -> list[str]:
            got: list[str] = []
            ws = await rh.WsClient.connect(addr)
            bob = who["bob"].pub.hex()
            r = await ws.call("social_subscribeFeed", {"account": bob})
            assert "result" in r, r
            cursor = None
            for i in range(3):
                await asyncio.to_thread(post, i)
                m = (await ws.recv())["params"]["result"]
                got.append(m["text"])
                cursor = m["cursor"]
            await ws.close()
            for i in range(3, 6):  # while disconnected
                await asyncio.to_thread(post, i)
            ws = await rh.WsClient.connect(addr)
            await ws.call("social_subscribeFeed", {"account": bob, "cursor": cursor})
            await asyncio.to_thread(post, 6)
            for _ in range(4):
                got.append((await ws.recv())["params"]["result"]["text"])
            await ws.close()
            return got

        assert rh.run(go(), 120) == sent
