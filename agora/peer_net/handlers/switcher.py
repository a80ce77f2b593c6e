"""`code_switcher()`: negotiation stays in peer_net, the rest goes to its actor.

`check_inbound()` is the first thing a received packet meets: an unknown
code, a packet whose flags do not match its code's kind, or a body over the
code's limit is the peer's fault (RemoteError, penalty 100, then a ban).
"""

from __future__ import annotations

from dataclasses import dataclass

from agora.errors import LocalError, RemoteError
from agora.peer_net.handlers.forward import (
    HandlerContext,
    Owner,
    forward,
    forward_to_block_chain,
    forward_to_consensus,
    forward_to_social,
    forward_to_test,
)
from agora.peer_net.handlers.table import TABLE, CodeSpec, Kind
from agora.peer_net.messages import Inbound
from agora.peer_net.requests import Pending

__all__ = [
    "Route",
    "check_inbound",
    "code_switcher",
    "dispatch",
    "dispatch_response",
    "forward",
    "forward_to_block_chain",
    "forward_to_consensus",
    "forward_to_social",
    "forward_to_test",
]

VIOLATION = 100


@dataclass(frozen=True, slots=True)
class Route:
    spec: CodeSpec

    @property
    def local(self) -> bool:
        """Negotiation: handled inside peer_net, never forwarded."""
        return self.spec.owner is Owner.NEGOTIATION

    @property
    def owner(self) -> Owner:
        return self.spec.owner

    @property
    def kind(self) -> Kind:
        return self.spec.kind


_ROUTES = {code: Route(spec) for code, spec in TABLE.items()}


def code_switcher(code: int) -> Route:
    route = _ROUTES.get(code)
    if route is None:
        raise RemoteError(f"unknown packet code {code}", code="unknown_code", penalty=VIOLATION)
    return route


def check_inbound(code: int, *, is_request: bool, is_response: bool, body_len: int) -> Route:
    """The route of a received packet, after checking its flags and size against its code."""
    route = code_switcher(code)
    spec = route.spec
    expected = (spec.kind is Kind.REQUEST, spec.kind is Kind.RESPONSE)
    if (is_request, is_response) != expected:
        raise RemoteError(
            f"{spec.name} is a {spec.kind.value}, sent as request={is_request} "
            f"response={is_response}",
            code="wrong_kind",
            penalty=VIOLATION,
        )
    if body_len > spec.max_body:
        raise RemoteError(
            f"{spec.name} body of {body_len} bytes is over {spec.max_body}",
            code="body_oversize",
            penalty=VIOLATION,
        )
    return route


def dispatch(ctx: HandlerContext, route: Route, msg: Inbound) -> bool:
    """Run the handler of an announcement or request; False if nobody took it."""
    handler = route.spec.handler
    if handler is None or route.kind is Kind.RESPONSE:
        raise LocalError(f"{route.spec.name} has no handler here", code="no_handler")
    return handler(ctx, msg)


def dispatch_response(ctx: HandlerContext, route: Route, msg: Inbound, pending: Pending) -> bool:
    """Run the `handler_res` of a response that resolved to `pending`."""
    handler_res = route.spec.handler_res
    if handler_res is None:
        raise LocalError(f"{route.spec.name} is not a response", code="no_handler")
    return handler_res(ctx, msg, pending)
