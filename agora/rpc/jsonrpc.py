"""JSON-RPC 2.0, sans-IO: request bytes in, response bytes (or nothing) out.

`Dispatcher.dispatch` answers at once when every call is a plain handler, and
otherwise returns a coroutine for the transport to await; the transports own
the tasks. A batch's calls may run concurrently and are answered in order. The
calls in a batch to a method with a `many` handler run as one call of it (one
task, one timeout), and each still gets its own answer in its place.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from agora.errors import AgoraError, LocalError, RemoteError
from agora.logs import Log
from agora.rpc.codes import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    OVERLOADED,
    PARSE_ERROR,
    TIMEOUT,
    RpcError,
)
from agora.rpc.methods import Context, Method, Registry, Services, Session

Id = int | str | None
Reply = bytes | None | Coroutine[Any, Any, bytes | None]
_MISSING: Any = object()
_INT64 = 2**63
_enc = msgspec.json.Encoder()
_log = Log("agora.rpc")


class Call:
    __slots__ = ("id", "method", "notify", "params")

    def __init__(self, method: str, params: Any, id: Id, notify: bool) -> None:
        self.method = method
        self.params = params
        self.id = id
        self.notify = notify


def _valid_id(id: Any) -> bool:
    if id is None or isinstance(id, str):
        return True
    return isinstance(id, int) and not isinstance(id, bool) and -_INT64 <= id < _INT64


def error_response(id: Id, code: int, message: str, data: dict[str, Any] | None = None) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return _enc.encode({"jsonrpc": "2.0", "id": id, "error": err})


def _invalid(why: str, id: Id = None) -> bytes:
    data = {"code": "invalid_request", "why": why}
    return error_response(id, INVALID_REQUEST, "Invalid Request", data)


def _check(item: Any) -> Call | bytes:
    """One request object to a Call, or the error response it deserves."""
    if not isinstance(item, dict):
        return _invalid("a request is a JSON object")
    id = item.get("id", _MISSING)
    notify = id is _MISSING
    if notify:
        id = None
    elif not _valid_id(id):
        return _invalid("id must be a string, an integer or null")
    if item.get("jsonrpc") != "2.0":
        return _invalid('"jsonrpc" must be "2.0"', id)
    method = item.get("method")
    if not isinstance(method, str):
        return _invalid('"method" must be a string', id)
    params = item.get("params")
    if params is not None and not isinstance(params, list | dict):
        return _invalid('"params" must be an array or an object', id)
    if "params" in item and params is None:
        return _invalid('"params" must be an array or an object', id)
    return Call(method, params, id, notify)


def parse(body: bytes | str, max_batch: int) -> tuple[list[Call | bytes], bool]:
    """The calls in `body` (or their error responses) and whether it was a batch."""
    try:
        doc = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return [error_response(None, PARSE_ERROR, "Parse error", {"code": "parse_error"})], False
    if isinstance(doc, list):
        if not doc:
            return [_invalid("empty batch")], False
        if len(doc) > max_batch:
            return [_invalid(f"a batch holds at most {max_batch} requests")], False
        return [_check(item) for item in doc], True
    return [_check(doc)], False


class _Group:
    """The calls of one batch to one `many` method, and where their answers go."""

    __slots__ = ("calls", "method", "params", "task")

    def __init__(self, method: Method) -> None:
        self.method = method
        self.calls: list[Call] = []
        self.params: list[Any] = []
        self.task: asyncio.Task[list[bytes | None]] | None = None


class _Slot:
    __slots__ = ("group", "index")

    def __init__(self, group: _Group, index: int) -> None:
        self.group = group
        self.index = index


def _join(parts: list[bytes], batch: bool) -> bytes | None:
    if not parts:
        return None  # only notifications: nothing at all, not even []
    if not batch:
        return parts[0]
    return b"[" + b",".join(parts) + b"]"


class Dispatcher:
    """Runs calls against a registry; one per RPC actor."""

    def __init__(
        self,
        registry: Registry,
        services: Services,
        *,
        max_batch: int = 100,
        max_blocking: int = 64,
        on_call: Callable[[str, int], None] | None = None,
        admit: Callable[[Session, int], float] | None = None,
    ) -> None:
        self.registry = registry
        self.admit = admit  # (session, calls) -> 0.0, or seconds until they would be let in
        self.services = services
        self.max_batch = max_batch
        self.on_call = on_call  # (method, 0 or error number): for metrics
        self._blocking_left = max_blocking

    def dispatch(self, body: bytes | str, session: Session) -> Reply:
        """Response bytes, None (nothing to send), or a coroutine that gives one of those."""
        items, batch = parse(body, self.max_batch)
        if self.admit is not None:
            calls = sum(1 for item in items if not isinstance(item, bytes))
            wait = self.admit(session, calls) if calls else 0.0
            if wait > 0:
                return self._limited(items, batch, wait)
        parts: list[Any] = []
        groups: dict[str, _Group] = {}
        waits = False
        for item in items:
            if isinstance(item, bytes):
                parts.append(item)
                continue
            m = self.registry.get(item.method) if batch else None
            if m is not None and m.many is not None:
                try:
                    params = m.bind(item.params)
                except RemoteError as exc:
                    fail = self._fail(item, INVALID_PARAMS, exc.message, exc.code)
                    if fail is not None:
                        parts.append(fail)
                    continue
                g = groups.get(m.name)
                if g is None:
                    g = groups[m.name] = _Group(m)
                g.calls.append(item)
                g.params.append(params)
                parts.append(_Slot(g, len(g.calls) - 1))
                waits = True
                continue
            out = self._start(item, session)
            waits = waits or isinstance(out, Coroutine)
            if out is not None:
                parts.append(out)
        if not waits:
            return _join(parts, batch)
        return self._finish(parts, batch, list(groups.values()), session)

    async def _finish(
        self, parts: list[Any], batch: bool, groups: list[_Group], session: Session
    ) -> bytes | None:
        if len(groups) == 1 and not any(isinstance(p, Coroutine) for p in parts):
            # The usual throughput batch (tx_submit calls only): nothing to run alongside,
            # so no task group and no task for it.
            answers = await self._run_many(groups[0], Context(self.services, session))
            out = [answers[p.index] if isinstance(p, _Slot) else p for p in parts]
            return _join([d for d in out if d is not None], batch)
        slots: list[Any] = list(parts)
        async with asyncio.TaskGroup() as tg:  # each coroutine catches its own errors
            for g in groups:
                g.task = tg.create_task(self._run_many(g, Context(self.services, session)))
            for i, p in enumerate(parts):
                if isinstance(p, Coroutine):
                    slots[i] = tg.create_task(p)
        done: list[bytes | None] = []
        for s in slots:
            if isinstance(s, asyncio.Task):
                done.append(s.result())
            elif isinstance(s, _Slot):
                assert s.group.task is not None
                done.append(s.group.task.result()[s.index])
            else:
                done.append(s)
        return _join([d for d in done if d is not None], batch)

    async def _run_many(self, g: _Group, ctx: Context) -> list[bytes | None]:
        m = g.method
        assert m.many is not None
        try:
            async with asyncio.timeout(m.timeout or self.services.default_timeout):
                results = await m.many(ctx, g.params)
            if len(results) != len(g.calls):
                raise LocalError(f"{len(g.calls)} calls, {len(results)} results", code="bad_many")
        except TimeoutError:
            err = RpcError(TIMEOUT, f"{m.name} timed out", code="timeout")
            return [self._error(c, m.name, err) for c in g.calls]
        except Exception as exc:
            return [self._error(c, m.name, exc) for c in g.calls]
        return [
            self._error(c, m.name, r) if isinstance(r, Exception) else self._ok(c, m.name, r)
            for c, r in zip(g.calls, results, strict=True)
        ]

    def _start(self, call: Call, session: Session) -> Reply:
        m = self.registry.get(call.method)
        if m is None:
            return self._fail(call, METHOD_NOT_FOUND, "Method not found", "method_not_found")
        try:
            params = m.bind(call.params)
        except RemoteError as exc:
            return self._fail(call, INVALID_PARAMS, exc.message, exc.code)
        ctx = Context(self.services, session)
        if m.is_async:
            return self._run_async(m, ctx, params, call)
        if m.blocking:
            return self._run_blocking(m, ctx, params, call)
        try:
            result = m.fn(ctx) if m.params is None else m.fn(ctx, params)
        except Exception as exc:
            return self._error(call, m.name, exc)
        return self._ok(call, m.name, result)

    async def _run_async(self, m: Method, ctx: Context, params: Any, call: Call) -> bytes | None:
        try:
            async with asyncio.timeout(m.timeout or self.services.default_timeout):
                coro = m.fn(ctx) if m.params is None else m.fn(ctx, params)
                result = await coro
        except TimeoutError:
            err = RpcError(TIMEOUT, f"{m.name} timed out", code="timeout")
            return self._error(call, m.name, err)
        except Exception as exc:
            return self._error(call, m.name, exc)
        return self._ok(call, m.name, result)

    async def _run_blocking(self, m: Method, ctx: Context, params: Any, call: Call) -> bytes | None:
        if self._blocking_left <= 0:
            err = RpcError(OVERLOADED, "too many slow requests in flight", code="overloaded")
            return self._error(call, m.name, err)
        self._blocking_left -= 1
        try:
            loop = asyncio.get_running_loop()
            args = (ctx,) if m.params is None else (ctx, params)
            fut = loop.run_in_executor(self.services.executor, m.fn, *args)
            async with asyncio.timeout(m.timeout or self.services.default_timeout):
                result = await fut
        except TimeoutError:
            err = RpcError(TIMEOUT, f"{m.name} timed out", code="timeout")
            return self._error(call, m.name, err)
        except Exception as exc:
            return self._error(call, m.name, exc)
        finally:
            self._blocking_left += 1
        return self._ok(call, m.name, result)

    def _ok(self, call: Call, name: str, result: Any) -> bytes | None:
        if self.on_call is not None:
            self.on_call(name, 0)
        if call.notify:
            return None
        try:
            return _enc.encode({"jsonrpc": "2.0", "id": call.id, "result": result})
        except (TypeError, ValueError, OverflowError) as exc:
            err = LocalError(f"unencodable result: {exc}", code="bad_result")
            return self._error(call, name, err)

    def _limited(self, items: list[Call | bytes], batch: bool, wait: float) -> bytes | None:
        """Every call of a message over its client's rate refused, none run."""
        retry_ms = -1 if wait == float("inf") else max(1, round(wait * 1000))
        why = "too many calls at once" if retry_ms < 0 else f"rate limited: retry in {retry_ms} ms"
        data = {"code": "rate_limited", "retry_after_ms": retry_ms}
        parts = []
        for item in items:
            if isinstance(item, bytes):
                parts.append(item)
                continue
            if self.on_call is not None:
                self.on_call(item.method if item.method in self.registry else "", OVERLOADED)
            if not item.notify:
                parts.append(error_response(item.id, OVERLOADED, why, data))
        return _join(parts, batch)

    def _fail(self, call: Call, number: int, message: str, code: str) -> bytes | None:
        if self.on_call is not None:
            self.on_call(call.method if call.method in self.registry else "", number)
        if call.notify:
            return None
        return error_response(call.id, number, message, {"code": code})

    def _error(self, call: Call, name: str, exc: Exception) -> bytes | None:
        if not isinstance(exc, AgoraError):
            _log.error("rpc_handler_bug", method=name, error=repr(exc),
                       trace="".join(traceback.format_exception(exc)))  # fmt: skip
            exc = LocalError(f"{name} failed", code="internal")
        elif isinstance(exc, LocalError):
            _log.warning("rpc_local_error", method=name, code=exc.code, error=exc.message)
        obj = self.registry.errors.error_object(exc)
        if self.on_call is not None:
            self.on_call(name, obj["code"])
        if call.notify:
            return None
        return _enc.encode({"jsonrpc": "2.0", "id": call.id, "error": obj})
