"""The sans-IO JSON-RPC dispatcher: every error code, batches, notifications, params, handlers."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rpc_helpers import FakeSession, run

from agora.errors import LocalError, RemoteError
from agora.rpc.codes import TX_REJECTED, RpcError
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.messages import Answer
from agora.rpc.methods import Context, Registry, Services
from agora.spsc import channel


class Add(msgspec.Struct):
    a: int
    b: int = 0


class Echo(msgspec.Struct):
    text: str


class TxRefused(RemoteError):
    code = "tx_refused"


def make(max_batch: int = 10, max_blocking: int = 8) -> tuple[Dispatcher, Registry, Services]:
    reg = Registry()
    pool = ThreadPoolExecutor(2)
    services = Services(reader={"height": 7}, executor=pool, default_timeout=2.0)

    @reg.method("test_add", params=Add, result=int)
    def add(ctx: Context, p: Add) -> int:
        return p.a + p.b

    @reg.method("test_height", result=int)
    def height(ctx: Context) -> int:
        return int(ctx.reader["height"])

    @reg.method("test_echoAsync", params=Echo, result=str)
    async def echo(ctx: Context, p: Echo) -> str:
        await asyncio.sleep(0)
        return p.text

    @reg.method("test_slow", timeout=0.05)
    async def slow(ctx: Context) -> None:
        await asyncio.sleep(5)

    @reg.method("test_thread", blocking=True, result=str)
    def thread(ctx: Context) -> str:
        return threading.current_thread().name

    @reg.method("test_fail", params=Echo)
    def fail(ctx: Context, p: Echo) -> None:
        kinds: dict[str, Exception] = {
            "not_found": RemoteError("no block 9", code="not_found"),
            "over_quota": RemoteError("posted too much", code="over_quota"),
            "weird": RemoteError("odd", code="weird"),
            "local": LocalError("secret path /etc/x", code="db_broken"),
            "bug": ValueError("secret internals"),
            "explicit": RpcError(-32042, "custom", code="custom", data={"why": 1}),
            "class": TxRefused("refused"),
        }
        raise kinds[p.text]

    @reg.method("test_unencodable")
    def unencodable(ctx: Context) -> object:
        return object()

    reg.errors.add_class(TX_REJECTED, TxRefused)
    d = Dispatcher(reg, services, max_batch=max_batch, max_blocking=max_blocking)
    return d, reg, services


def call(d: Dispatcher, body: bytes | str) -> Any:
    out = d.dispatch(body, FakeSession())
    if asyncio.iscoroutine(out):
        out = run(out)
    return None if out is None else msgspec.json.decode(out)


def req(method: str, params: Any = None, id: Any = 1) -> bytes:
    doc: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        doc["params"] = params
    return msgspec.json.encode(doc)


def test_by_name_and_by_position() -> None:
    d, _, _ = make()
    assert call(d, req("test_add", {"a": 2, "b": 3})) == {"jsonrpc": "2.0", "id": 1, "result": 5}
    assert call(d, req("test_add", [2, 3]))["result"] == 5
    assert call(d, req("test_add", [2]))["result"] == 2
    assert call(d, req("test_add", {"a": 4}, id="x")) == {"jsonrpc": "2.0", "id": "x", "result": 4}
    assert call(d, req("test_height"))["result"] == 7
    assert call(d, req("test_height", []))["result"] == 7
    assert call(d, req("test_add", {"a": 1}, id=None))["id"] is None  # null id: still a request


def test_parse_error() -> None:
    d, _, _ = make()
    for body in (b"{", b'{"jsonrpc": "2.0", "method": "x"', b"\xff\xfe", b"[" * 50_000, b""):
        r = call(d, body)
        assert r["error"]["code"] == -32700 and r["id"] is None, body[:10]


@pytest.mark.parametrize(
    "doc",
    [
        1,
        "x",
        None,
        {"jsonrpc": "1.0", "method": "test_height", "id": 1},
        {"method": "test_height", "id": 1},
        {"jsonrpc": "2.0", "method": 5, "id": 1},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "method": "test_height", "params": "x", "id": 1},
        {"jsonrpc": "2.0", "method": "test_height", "params": None, "id": 1},
        {"jsonrpc": "2.0", "method": "test_height", "id": 1.5},
        {"jsonrpc": "2.0", "method": "test_height", "id": True},
        {"jsonrpc": "2.0", "method": "test_height", "id": [1]},
        {"jsonrpc": "2.0", "method": "test_height", "id": 2**70},
    ],
)
def test_invalid_request(doc: Any) -> None:
    d, _, _ = make()
    r = call(d, msgspec.json.encode(doc))
    assert r["error"]["code"] == -32600
    assert r["error"]["data"]["code"] == "invalid_request"


def test_invalid_request_keeps_a_valid_id() -> None:
    d, _, _ = make()
    r = call(d, b'{"jsonrpc":"1.0","method":"test_height","id":9}')
    assert r["id"] == 9 and r["error"]["code"] == -32600


def test_method_not_found() -> None:
    d, _, _ = make()
    r = call(d, req("test_nothing"))
    assert r["error"] == {
        "code": -32601,
        "message": "Method not found",
        "data": {"code": "method_not_found"},
    }


@pytest.mark.parametrize(
    "params",
    [
        {"a": "1"},
        {"a": True},
        {"b": 1},
        {"a": 1, "c": 2},
        [1, 2, 3],
        ["x"],
        [],
    ],
)
def test_invalid_params(params: Any) -> None:
    d, _, _ = make()
    r = call(d, req("test_add", params))
    assert r["error"]["code"] == -32602, r
    assert r["error"]["data"]["code"] == "invalid_params"


def test_params_for_a_method_without_params() -> None:
    d, _, _ = make()
    assert call(d, req("test_height", [1]))["error"]["code"] == -32602
    assert call(d, req("test_height", {"x": 1}))["error"]["code"] == -32602


def test_domain_errors_have_stable_numbers_and_string_codes() -> None:
    d, _, _ = make()

    def err(kind: str) -> Any:
        return call(d, req("test_fail", {"text": kind}))["error"]

    assert err("not_found") == {
        "code": -32004,
        "message": "no block 9",
        "data": {"code": "not_found"},
    }
    assert err("over_quota") == {
        "code": -32010,
        "message": "posted too much",
        "data": {"code": "over_quota"},
    }
    assert err("weird") == {"code": -32000, "message": "odd", "data": {"code": "weird"}}
    assert err("explicit") == {
        "code": -32042,
        "message": "custom",
        "data": {"code": "custom", "why": 1},
    }
    assert err("class")["code"] == TX_REJECTED
    assert err("class")["data"]["code"] == "tx_refused"


def test_internal_errors_do_not_leak() -> None:
    d, _, _ = make()
    for kind in ("local", "bug"):
        e = call(d, req("test_fail", {"text": kind}))["error"]
        assert e["code"] == -32603 and e["message"] == "Internal error"
        assert "secret" not in msgspec.json.encode(e).decode()
    e = call(d, req("test_unencodable"))["error"]
    assert e["code"] == -32603 and e["data"]["code"] == "bad_result"


def test_batch_in_order_without_notifications() -> None:
    d, _, _ = make()
    batch = [
        {"jsonrpc": "2.0", "method": "test_add", "params": [1, 1], "id": 1},
        {"jsonrpc": "2.0", "method": "test_add", "params": [5, 5]},
        {"jsonrpc": "2.0", "method": "test_echoAsync", "params": {"text": "hi"}, "id": 2},
        {"jsonrpc": "2.0", "method": "test_nothing", "id": 3},
        7,
        {"jsonrpc": "2.0", "method": "test_thread", "id": 4},
    ]
    r = call(d, msgspec.json.encode(batch))
    assert [x.get("id") for x in r] == [1, 2, 3, None, 4]
    assert r[0]["result"] == 2 and r[1]["result"] == "hi"
    assert r[2]["error"]["code"] == -32601 and r[3]["error"]["code"] == -32600


def test_batch_limits() -> None:
    d, _, _ = make(max_batch=3)
    assert call(d, b"[]")["error"]["code"] == -32600
    one = {"jsonrpc": "2.0", "method": "test_height", "id": 1}
    assert call(d, msgspec.json.encode([one] * 4))["error"]["code"] == -32600
    assert len(call(d, msgspec.json.encode([one] * 3))) == 3
    assert [x["error"]["code"] for x in call(d, b"[1,2]")] == [-32600, -32600]


def test_notifications_get_nothing_back() -> None:
    d, _, _ = make()
    assert call(d, b'{"jsonrpc":"2.0","method":"test_add","params":[1]}') is None
    assert call(d, b'{"jsonrpc":"2.0","method":"test_nothing"}') is None
    assert call(d, b'{"jsonrpc":"2.0","method":"test_fail","params":{"text":"bug"}}') is None
    notes = b'[{"jsonrpc":"2.0","method":"test_add","params":[1]},{"jsonrpc":"2.0","method":"x"}]'
    assert call(d, notes) is None


def test_async_and_blocking_handlers() -> None:
    d, _, _ = make()
    assert call(d, req("test_echoAsync", ["yo"]))["result"] == "yo"
    name = call(d, req("test_thread"))["result"]
    assert name != threading.current_thread().name
    e = call(d, req("test_slow"))["error"]
    assert e["code"] == -32002 and e["data"]["code"] == "timeout"


def test_blocking_calls_are_bounded() -> None:
    d, _, _ = make(max_blocking=1)
    batch = msgspec.json.encode(
        [{"jsonrpc": "2.0", "method": "test_thread", "id": i} for i in range(3)]
    )
    codes = [x.get("error", {}).get("code") for x in call(d, batch)]
    assert codes.count(None) == 1 and codes.count(-32003) == 2


def test_ask_and_answer() -> None:
    reg = Registry()
    tx, rx = channel(4, object)
    services = Services(outbox=tx, default_timeout=1.0)
    d = Dispatcher(reg, services)

    @reg.method("test_ask", params=Echo)
    async def ask(ctx: Context, p: Echo) -> Any:
        return await ctx.ask(lambda ticket: ("question", ticket, p.text), 0.5)

    async def scenario() -> list[Any]:
        out = d.dispatch(req("test_ask", ["a"]), FakeSession())
        assert asyncio.iscoroutine(out)
        task = asyncio.ensure_future(out)
        q = await rx.receive()
        assert q[0] == "question" and q[2] == "a"
        assert services.asks.answer(Answer(q[1], result={"hash": "ab"}))
        first = await task
        task = asyncio.ensure_future(d.dispatch(req("test_ask", ["b"]), FakeSession()))  # type: ignore[arg-type]
        q = await rx.receive()
        services.asks.answer(Answer(q[1], error=RemoteError("nonce too old", code="nonce_too_old")))
        second = await task
        task = asyncio.ensure_future(d.dispatch(req("test_ask", ["c"]), FakeSession()))  # type: ignore[arg-type]
        q = await rx.receive()
        third = await task  # nobody answers
        late = services.asks.answer(Answer(q[1], result=1))
        return [msgspec.json.decode(x) for x in (first, second, third)] + [late, len(services.asks)]

    first, second, third, late, waiting = run(scenario())
    assert first["result"] == {"hash": "ab"}
    assert second["error"] == {
        "code": -32010,
        "message": "nonce too old",
        "data": {"code": "nonce_too_old"},
    }
    assert third["error"]["code"] == -32002
    assert late is False and waiting == 0


def test_send_when_the_channel_is_full_or_missing() -> None:
    tx, _rx = channel(1, object)
    ctx = Context(Services(outbox=tx), FakeSession())
    ctx.send(1)
    with pytest.raises(RpcError) as info:
        ctx.send(2)
    assert info.value.rpc_code == -32003
    with pytest.raises(RpcError) as info:
        Context(Services(), FakeSession()).send(1)
    assert info.value.rpc_code == -32005


def test_registration_rules() -> None:
    reg = Registry()
    for bad in ("getBlock", "chain.getBlock", "Chain_get", "chain_", "_x"):
        with pytest.raises(LocalError):
            reg.add(bad, lambda ctx: None)
    reg.add("chain_getBlock", lambda ctx: None)
    with pytest.raises(LocalError):
        reg.add("chain_getBlock", lambda ctx: None)

    async def a(ctx: Context) -> None:
        pass

    with pytest.raises(LocalError):
        reg.add("chain_async", a, blocking=True)
    with pytest.raises(LocalError):
        reg.add("chain_bad", lambda ctx, p: None, params=dict)  # type: ignore[arg-type]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_request = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2]),
        "method": st.sampled_from(["test_add", "test_height", "test_fail", "nope", "rpc_discover"])
        | st.text(max_size=5),
        "params": _json,
        "id": _json,
    },
)


_FUZZ = make()  # one dispatcher for every example (only the fuzz test uses it)


def _check_response(r: Any) -> None:
    assert isinstance(r, dict) and r["jsonrpc"] == "2.0" and "id" in r
    assert ("result" in r) != ("error" in r)
    if "error" in r:
        assert isinstance(r["error"]["code"], int) and isinstance(r["error"]["message"], str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=64), _json.map(msgspec.json.encode),
                 st.lists(_request, max_size=5).map(msgspec.json.encode),
                 _request.map(msgspec.json.encode)))  # fmt: skip
def test_fuzz_dispatch_only_answers_cleanly(body: bytes) -> None:
    r = call(_FUZZ[0], body)
    if r is None:
        return
    for item in r if isinstance(r, list) else [r]:
        _check_response(item)
