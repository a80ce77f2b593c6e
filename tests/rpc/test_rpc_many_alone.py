"""A batch whose only waiting calls go to one `many` method: answered in place, in order."""

import asyncio
from collections.abc import Coroutine
from typing import Any

import msgspec

from agora import runtime
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.methods import Context, Registry, Services


class _Session:
    transport = "http"
    peer = ("127.0.0.1", 1)


class P(msgspec.Struct):
    n: int


def _dispatcher(seen: list[list[int]]) -> Dispatcher:
    reg = Registry()

    async def one(ctx: Context, p: P) -> int:
        return p.n

    async def many(ctx: Context, ps: list[P]) -> list[Any]:
        seen.append([p.n for p in ps])
        return [ValueError("odd") if p.n % 2 else p.n * 10 for p in ps]

    def sync(ctx: Context, p: P) -> int:
        return -p.n

    reg.add("t_many", one, params=P, many=many)
    reg.add("t_other", one, params=P, many=many)
    reg.add("t_sync", sync, params=P)
    return Dispatcher(reg, Services(default_timeout=2.0))


def _run(d: Dispatcher, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = d.dispatch(msgspec.json.encode(body), _Session())
    assert isinstance(out, Coroutine)

    async def go() -> bytes | None:
        async with asyncio.timeout(10):
            return await out

    reply = runtime.run(go())
    assert reply is not None
    got: list[dict[str, Any]] = msgspec.json.decode(reply)
    return got


def _call(id: int | None, method: str, params: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if id is not None:
        doc["id"] = id
    return doc


def test_one_many_group_with_sync_calls_errors_and_a_notification() -> None:
    seen: list[list[int]] = []
    body = [
        _call(1, "t_many", [2]),
        _call(2, "t_sync", [5]),
        _call(3, "t_many", {"bad": 1}),
        _call(None, "t_many", [4]),
        _call(4, "t_nope", [1]),
        _call(5, "t_many", [3]),
        _call(6, "t_many", [6]),
    ]
    got = _run(_dispatcher(seen), body)
    assert seen == [[2, 4, 3, 6]]  # one call of `many`, the notification included
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert got[0]["result"] == 20
    assert got[1]["result"] == -5
    assert got[2]["error"]["code"] == -32602
    assert got[3]["error"]["code"] == -32601
    assert got[4]["error"]["code"] == -32603  # the handler's exception for that call
    assert got[5]["result"] == 60


def test_two_many_groups_still_answer_in_order() -> None:
    seen: list[list[int]] = []
    body = [_call(1, "t_many", [2]), _call(2, "t_other", [4]), _call(3, "t_many", [8])]
    got = _run(_dispatcher(seen), body)
    assert sorted(seen) == [[2, 8], [4]]
    assert [(r["id"], r["result"]) for r in got] == [(1, 20), (2, 40), (3, 80)]
