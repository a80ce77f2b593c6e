"""social_* over the RPC layer: the dispatcher in-process, HTTP, OpenRPC, and the
subscriptions' resume from a cursor (no gap, no duplicate) with blocks arriving meanwhile."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
from social_util import Net

from agora.rpc.app import RpcConfig
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.messages import Publish, Publisher, RpcInbound
from agora.rpc.methods import Registry, Services
from agora.rpc.server import RpcServer
from agora.rpc.subscriptions import Hub
from agora.social import bodies as b
from agora.social import live
from agora.social.rpc import register
from agora.social.service import SocialReader
from agora.spsc import Receiver, Sender, WouldBlock, channel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rpc"))
rh: Any = importlib.import_module("rpc_helpers")


class _Session:
    transport = "http"
    peer = ("127.0.0.1", 1)


def call(disp: Dispatcher, method: str, params: Any = None) -> Any:
    doc: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        doc["params"] = params
    out = disp.dispatch(msgspec.json.encode(doc), _Session())
    if not isinstance(out, bytes | None):
        out = asyncio.run(out)
    assert out is not None
    return msgspec.json.decode(out)


def test_every_method_through_the_dispatcher(people: Net, reader: SocialReader) -> None:
    n = people
    n.target(1, "follow", 0)
    p = n.post(0, "hello #rpc @bob")
    n.post(1, "reply", reply_to=p)
    n.do(1, "react", b.React(p, "like"))
    reg = Registry()
    register(reg, reader)
    with ThreadPoolExecutor(2) as pool:
        d = Dispatcher(reg, Services(executor=pool))
        enc = msgspec.to_builtins
        cases: list[tuple[str, Any, Any]] = [
            ("social_getInfo", None, reader.info()),
            ("social_getAccount", {"account": "@bob"}, reader.account_state("bob")),
            ("social_getFeed", {"account": "bob", "limit": 5}, reader.feed("bob", None, 5)),
            ("social_getPosts", ["@alice"], reader.posts("alice")),
            ("social_getThread", {"post": p.hex()}, reader.thread(p.hex())),
            ("social_getPost", {"post": p.hex()}, reader.post(p.hex())),
            ("social_getProfile", {"account": "alice", "viewer": "bob"},
             reader.profile("alice", "bob")),
            ("social_getFollowers", {"account": "alice"}, reader.followers("alice")),
            ("social_getFollowing", {"account": "bob"}, reader.following("bob")),
            ("social_getNotifications", {"account": "alice"}, reader.notifications("alice")),
            ("social_searchPosts", {"query": "hello"}, reader.search_posts("hello")),
            ("social_searchProfiles", {"query": "bo"}, reader.search_profiles("bo")),
            ("social_searchHashtags", {"prefix": "r"}, reader.search_tags("r")),
            ("social_getHashtag", {"tag": "#rpc"}, reader.hashtag("rpc")),
            ("social_getTrending", {}, reader.trending()),
            ("social_getTxResult", {"hash": p.hex()}, reader.tx_result(p.hex())),
        ]  # fmt: skip
        for method, params, want in cases:
            got = call(d, method, params)
            assert got.get("result") == enc(want), (method, got)
        assert (
            call(d, "social_getFeed", {"account": "bob"})["result"]["items"][1]["post"]["text"]
            == "hello #rpc @bob"
        )
        errors = [
            ("social_getFeed", {"account": "bob", "cursor": "x"}, -32602, "bad_cursor"),
            ("social_getFeed", {"account": "@nobody"}, -32004, "not_found"),
            ("social_getFeed", {"account": "bob", "limit": 1000}, -32602, "invalid_params"),
            ("social_getThread", {"post": "zz"}, -32602, "bad_post_id"),
            ("social_searchPosts", {"query": "?!"}, -32602, "bad_query"),
            ("social_getProfile", {"account": "a b"}, -32602, "bad_account"),
        ]
        for method, params, number, code in errors:
            err = call(d, method, params)["error"]
            assert (err["code"], err["data"]["code"]) == (number, code), method
        # Social tx refusals are -32010 with their own codes.
        assert reg.errors.number(n.refused(1, "follow", b.Target(n.key(1)))) == -32010


def test_openrpc_describes_every_social_method_and_topic(reader: SocialReader) -> None:
    reg = Registry()
    register(reg, reader, Hub())
    doc = call(Dispatcher(reg, Services()), "rpc_discover")["result"]
    names = {m["name"]: m for m in doc["methods"]}
    for name in (
        "social_getFeed", "social_getThread", "social_getPost", "social_getProfile",
        "social_getNotifications", "social_searchPosts", "social_getTrending",
        "social_subscribeFeed", "social_subscribePosts", "social_subscribeNotifications",
        "social_unsubscribe",
    ):  # fmt: skip
        assert name in names, name
    feed = names["social_getFeed"]
    assert [p["name"] for p in feed["params"]] == ["account", "cursor", "limit"]
    assert "x-subscription" in names["social_subscribeFeed"]
    codes = (
        {c for cs in doc["x-errorCodes"].values() for c in cs}
        if isinstance(doc.get("x-errorCodes"), dict)
        else set(str(doc.get("x-errorCodes")))
    )
    assert "post_too_long" in str(doc["x-errorCodes"]) or "post_too_long" in codes


def test_feed_over_http(people: Net, reader: SocialReader) -> None:
    people.post(0, "over http")

    async def go() -> Any:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)))
        register(rpc.registry, reader, rpc.hub)
        async with rh.serving(rpc) as addr:
            return await rh.rpc_call(addr, "social_getPosts", {"account": "@alice"})

    out = rh.run(go())
    assert out["result"]["items"][0]["post"]["text"] == "over http"


def _publisher() -> tuple[Publisher, Receiver[RpcInbound]]:
    tx: Sender[RpcInbound]
    rx: Receiver[RpcInbound]
    tx, rx = channel(4096, Publish)
    return Publisher(tx), rx


def test_websocket_resume_after_reconnect(people: Net, reader: SocialReader) -> None:
    """Feed and notifications: read some, disconnect, blocks commit meanwhile, reconnect
    with the last cursor: every item exactly once, in order, then live ones."""
    n = people
    n.target(1, "follow", 0)
    n.target(1, "follow", 2)
    pub, rx = _publisher()
    expected: list[str] = []
    expected_n: list[str] = []

    def step(i: int) -> None:
        who = 0 if i % 2 else 2
        txs = [n.tx(who, "post", b.Post(f"post {i} @bob".encode()))]
        if i % 3 == 0:
            txs.append(n.tx(3, "post", b.Post(f"stranger {i}".encode())))  # not followed
        res = n.block(*txs)
        expected.append(f"post {i} @bob")
        expected_n.append(res.tx_hashes[0].hex())
        live.publish(pub, res)

    for i in range(5):
        step(i)

    async def go() -> tuple[list[str], list[str], list[str]]:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0), backfill_page=2))
        register(rpc.registry, reader, rpc.hub)
        texts: list[str] = []
        cursors: list[str] = []
        notes: list[str] = []
        async with rh.serving(rpc, [(rx, "social")]) as addr:
            ws = await rh.WsClient.connect(addr)
            r = await ws.call("social_subscribeFeed", {"account": "@bob", "cursor": "0.0"})
            assert "result" in r, r
            r = await ws.call("social_subscribeNotifications", {"account": "@bob"})
            nsid = r["result"]
            for _ in range(3):
                m = (await ws.recv())["params"]["result"]
                texts.append(m["text"])
                cursors.append(m["cursor"])
            step(5)  # live, while connected
            ncursor = None
            for _ in range(20):
                msg = (await ws.recv())["params"]
                if msg["subscription"] == nsid:
                    ncursor = msg["result"]["cursor"]
                    notes.append(msg["result"]["post"])
                    break
                texts.append(msg["result"]["text"])
                cursors.append(msg["result"]["cursor"])
            await ws.close()
            for i in range(6, 9):  # while disconnected
                step(i)
            ws = await rh.WsClient.connect(addr)
            await ws.call("social_subscribeFeed", {"account": "bob", "cursor": cursors[-1]})
            await ws.call("social_subscribeNotifications", {"account": "bob", "cursor": ncursor})
            step(9)
            for _ in range(40):
                if len(texts) >= 10 and len(notes) >= 5:
                    break
                msg = (await ws.recv())["params"]["result"]
                if "text" in msg:
                    texts.append(msg["text"])
                else:
                    notes.append(msg["post"])
            await ws.close()
        return texts, cursors, notes

    texts, _, notes = rh.run(go())
    assert texts == expected
    assert notes == expected_n[5:10]


def test_hub_backfill_with_events_injected_meanwhile(people: Net, reader: SocialReader) -> None:
    """Sans-IO: the store is read in pages of 2 while every page read commits a new block
    and publishes its events: the subscriber gets each post once, in order."""
    n = people
    for i in range(6):
        n.post(0, f"old {i}")
    pub, rx = _publisher()
    topic = next(t for t in live.topics(reader) if t.method == "social_subscribePosts")
    inner = topic.source
    made: list[str] = [f"old {i}" for i in range(6)]

    class Injecting:
        def __init__(self) -> None:
            self.calls = 0

        def head(self, params: Any) -> int:
            return int(inner.head(params))

        def backfill(self, params: Any, after: int, limit: int) -> Any:
            rows = inner.backfill(params, after, limit)
            if self.calls < 4:  # a block lands while the subscription reads the store
                self.calls += 1
                res = n.block(n.tx(0, "post", b.Post(f"new {self.calls}".encode())))
                made.append(f"new {self.calls}")
                live.publish(pub, res)
            return rows

        def matches(self, params: Any, item: Any) -> bool:
            return bool(inner.matches(params, item))

    class Sink:
        closed = False

        def __init__(self) -> None:
            self.data: list[bytes] = []

        def push(self, data: bytes) -> None:
            self.data.append(data)

        async def room(self) -> None:
            return None

    async def go() -> list[str]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            hub = Hub(pool, page=2, buffer=100)
            tasks: list[asyncio.Task[None]] = []
            hub.spawn = lambda coro: tasks.append(loop.create_task(coro))
            t = dataclasses.replace(topic, source=Injecting())
            sink = Sink()
            hub.subscribe(t, live.SubscribePosts("alice", "0.0"), sink)
            hub.release(sink)
            for _ in range(200):
                while True:
                    try:
                        ev = rx.receive_nowait()
                    except WouldBlock:
                        break
                    assert isinstance(ev, Publish)
                    hub.publish(ev)
                if all(tk.done() for tk in tasks) and len(rx) == 0:
                    break
                await asyncio.sleep(0.01)
            for tk in tasks:
                await tk
        out = []
        for d in sink.data:
            out.append(msgspec.json.decode(d)["params"]["result"]["text"])
        return out

    got = asyncio.run(go())
    assert got == made


def test_subscription_to_an_account_this_node_has_not_seen_yet(
    people: Net, reader: SocialReader
) -> None:
    """A client that acted through another node may subscribe here before this node
    applied its block: the subscription waits for the account instead of failing."""
    n = people
    newcomer = n.key(5).hex()  # funded, but no social row until its first social tx
    pub, rx = _publisher()

    async def go() -> list[dict[str, Any]]:
        rpc = RpcServer(RpcConfig(listen=("127.0.0.1", 0)))
        register(rpc.registry, reader, rpc.hub)
        got: list[dict[str, Any]] = []
        async with rh.serving(rpc, [(rx, "social")]) as addr:
            ws = await rh.WsClient.connect(addr)
            for method in ("social_subscribeFeed", "social_subscribeNotifications"):
                r = await ws.call(method, {"account": newcomer})
                assert "result" in r, r
            live.publish(pub, n.block(n.tx(5, "follow", b.Target(n.key(0)))))
            live.publish(pub, n.block(n.tx(0, "post", b.Post(b"hello @newcomer"))))
            got.append((await ws.recv())["params"])
            await ws.close()
        return got

    (first,) = rh.run(go())
    assert first["result"]["text"] == "hello @newcomer", first
