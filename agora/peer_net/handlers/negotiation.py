"""Handlers of the negotiation codes, which never leave peer_net.

DISCONNECT has none: `Connection` consumes it. PING is answered with a PONG
echoing its body; PEX_REQUEST with the addresses we share; a PEX_RESPONSE
is checked strictly before the service learns from it.
"""

from __future__ import annotations

from agora.peer_net.codes import PacketCode
from agora.peer_net.handlers.forward import HandlerContext
from agora.peer_net.messages import Inbound
from agora.peer_net.pex import MAX_PEX, decode_pex_request, decode_pex_response, encode_pex_response
from agora.peer_net.requests import Pending

MAX_PING_BODY = 64


def on_ping(ctx: HandlerContext, msg: Inbound) -> bool:
    ctx.net.respond(msg.peer_id, msg.msg_id, PacketCode.PONG, msg.body)
    return True


def on_pong(ctx: HandlerContext, msg: Inbound, pending: Pending) -> bool:
    ctx.net.pong(msg.peer_id, pending, msg.body)
    return True


def on_pex_request(ctx: HandlerContext, msg: Inbound) -> bool:
    decode_pex_request(msg.body)
    addrs = ctx.net.pex_addresses(msg.peer_id)[:MAX_PEX]
    ctx.net.respond(msg.peer_id, msg.msg_id, PacketCode.PEX_RESPONSE, encode_pex_response(addrs))
    return True


def on_pex_response(ctx: HandlerContext, msg: Inbound, pending: Pending) -> bool:
    ctx.net.learn_addresses(msg.peer_id, decode_pex_response(msg.body))
    return True
