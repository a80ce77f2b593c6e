"""The method registry: names, params checked by msgspec, and the handler context.

A handler is `fn(ctx)` or `fn(ctx, params)`, plain (a fast read on the loop),
`async` (it awaits another actor, with a timeout), or plain with
`blocking=True` (it runs on the RPC thread pool: SQLite reads). A method may
also have `many=`, an async `fn(ctx, [params])` that takes every call to it in
one JSON-RPC batch at once (e.g. `tx_submit`: one question to the chain). Params arrive
by name (an object) or by position (an array, in the struct's field order).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec

from agora import __version__
from agora.errors import LocalError, RemoteError
from agora.rpc.codes import OVERLOADED, UNAVAILABLE, ErrorTable, RpcError
from agora.rpc.messages import Asks
from agora.spsc import BrokenChannel, ChannelClosed, Sender, WouldBlock

if TYPE_CHECKING:
    from agora.rpc.subscriptions import Hub

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"^[a-z][a-z0-9]*_[a-z][A-Za-z0-9]*$")


class Session(Protocol):
    """Who is calling: one HTTP request's connection, or one WebSocket."""

    transport: str  # "http" or "ws"
    peer: tuple[str, int]


@dataclass
class Services:
    """What handlers may use: the node's read-only state and its channels (one per RPC actor)."""

    reader: Any = None  # opaque: whatever the node gives (a chain/social Reader)
    outbox: Sender[Any] | None = None  # towards peer_net
    asks: Asks = field(default_factory=Asks)
    executor: Executor | None = None
    hub: Hub | None = None
    default_timeout: float = 10.0


class Context:
    """Passed to every handler."""

    __slots__ = ("services", "session")

    def __init__(self, services: Services, session: Session) -> None:
        self.services = services
        self.session = session

    @property
    def reader(self) -> Any:
        return self.services.reader

    def send(self, msg: Any) -> None:
        """Send `msg` to peer_net now; OVERLOADED if its channel is full."""
        outbox = self.services.outbox
        if outbox is None:
            raise RpcError(UNAVAILABLE, "this node has no outbound channel", code="unavailable")
        try:
            outbox.send_nowait(msg)
        except WouldBlock:
            raise RpcError(OVERLOADED, "the node is busy, retry later", code="overloaded") from None
        except (BrokenChannel, ChannelClosed):
            raise RpcError(UNAVAILABLE, "the node is stopping", code="unavailable") from None

    async def ask(self, make: Callable[[int], Any], wait_s: float | None = None) -> Any:
        """Send `make(ticket)` to peer_net and await the `Answer` carrying that ticket."""
        wait = self.services.default_timeout if wait_s is None else wait_s
        return await self.services.asks.ask(lambda t: self.send(make(t)), wait)


@dataclass(frozen=True)
class Method:
    name: str
    fn: Callable[..., Any]
    params: type[msgspec.Struct] | None
    result: Any
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    blocking: bool = False
    timeout: float | None = None
    errors: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # x-... fields for the OpenRPC doc
    is_async: bool = False
    names: tuple[str, ...] = ()  # the params' JSON names, in positional order
    # async fn(ctx, [params, ...]) -> [result or AgoraError, ...]: the calls of one
    # JSON-RPC batch to this method, handled together (one answer per call, in order)
    many: Callable[..., Any] | None = None

    def bind(self, raw: Any) -> Any:
        """Raw JSON params to the params struct; RemoteError `invalid_params` if they do not fit."""
        if self.params is None:
            if raw is None or raw == [] or raw == {}:
                return None
            raise RemoteError(f"{self.name} takes no params", code="invalid_params")
        if raw is None:
            raw = {}
        elif isinstance(raw, list):
            if len(raw) > len(self.names):
                n = len(self.names)
                raise RemoteError(f"{self.name} takes at most {n} params", code="invalid_params")
            raw = dict(zip(self.names, raw, strict=False))
        else:
            unknown = sorted(k for k in raw if k not in self.names)
            if unknown:
                names = ", ".join(unknown)[:200]
                raise RemoteError(f"unknown params: {names}", code="invalid_params")
        try:
            return msgspec.convert(raw, self.params, strict=True)
        except msgspec.ValidationError as exc:
            raise RemoteError(f"invalid params: {exc}"[:500], code="invalid_params") from None


class Registry:
    """Every method the RPC server answers, in registration order."""

    def __init__(
        self, *, title: str = "Agora JSON-RPC", version: str = __version__, discover: bool = True
    ) -> None:
        self.title = title
        self.version = version
        self.errors = ErrorTable()
        self._methods: dict[str, Method] = {}
        self._aliases: dict[str, str] = {}
        if discover:
            from agora.rpc.openrpc import add_discover  # it needs this module

            add_discover(self)

    def method(
        self,
        name: str,
        *,
        params: type[msgspec.Struct] | None = None,
        result: Any = Any,
        summary: str = "",
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        blocking: bool = False,
        timeout: float | None = None,
        errors: tuple[int, ...] | list[int] = (),
        extra: dict[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of `add`."""

        def register(fn: F) -> F:
            self.add(
                name, fn, params=params, result=result, summary=summary, description=description,
                tags=tags, blocking=blocking, timeout=timeout, errors=errors, extra=extra,
            )  # fmt: skip
            return fn

        return register

    def add(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        params: type[msgspec.Struct] | None = None,
        result: Any = Any,
        summary: str = "",
        description: str = "",
        tags: tuple[str, ...] | list[str] = (),
        blocking: bool = False,
        timeout: float | None = None,
        errors: tuple[int, ...] | list[int] = (),
        extra: dict[str, Any] | None = None,
        many: Callable[..., Any] | None = None,
    ) -> Method:
        if not _NAME.match(name):
            raise LocalError(f"method names are area_verbThing, not {name!r}", code="bad_method")
        if name in self._methods or name in self._aliases:
            raise LocalError(f"method {name} is registered twice", code="bad_method")
        is_async = inspect.iscoroutinefunction(fn)
        if is_async and blocking:
            raise LocalError(f"{name}: an async handler cannot be blocking", code="bad_method")
        if many is not None and not inspect.iscoroutinefunction(many):
            raise LocalError(f"{name}: a batch handler must be async", code="bad_method")
        if params is not None and not (
            isinstance(params, type) and issubclass(params, msgspec.Struct)
        ):
            raise LocalError(f"{name}: params must be a msgspec Struct class", code="bad_method")
        for t in (params, result):
            try:
                msgspec.json.schema(Any if t is None else t)
            except (TypeError, ValueError) as exc:
                msg = f"{name}: no JSON schema for {t!r}: {exc}"
                raise LocalError(msg, code="bad_method") from exc
        names = tuple(f.encode_name for f in msgspec.structs.fields(params)) if params else ()
        m = Method(
            name, fn, params, result, summary, description, tuple(tags), blocking, timeout,
            tuple(errors), dict(extra or {}), is_async, names, many,
        )  # fmt: skip
        self._methods[name] = m
        return m

    def alias(self, alias: str, name: str) -> None:
        """Answer `alias` (e.g. OpenRPC's `rpc.discover`) as `name`; not listed in the doc."""
        if name not in self._methods or alias in self._methods:
            raise LocalError(f"cannot alias {alias} to {name}", code="bad_method")
        self._aliases[alias] = name

    def get(self, name: str) -> Method | None:
        m = self._methods.get(name)
        if m is None and name in self._aliases:
            m = self._methods[self._aliases[name]]
        return m

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[Method]:
        return iter(self._methods.values())

    def __len__(self) -> int:
        return len(self._methods)
