"""The packet-code table and the switch that routes each code (the seed's `handlers`).

`table.TABLE` maps every code to its `CodeSpec`: owner, kind, limits,
`handler` / `handler_res`. `switcher.code_switcher()` keeps negotiation in
peer_net and forwards the rest with `forward_to_consensus()`,
`forward_to_block_chain()` or `forward_to_social()`.
"""

from agora.peer_net.handlers.forward import (
    Channels,
    HandlerContext,
    NetOps,
    Owner,
    Sink,
    forward_to_block_chain,
    forward_to_consensus,
    forward_to_social,
    forward_to_test,
)
from agora.peer_net.handlers.switcher import Route, check_inbound, code_switcher
from agora.peer_net.handlers.table import (
    TABLE,
    AppCode,
    CodeSpec,
    Kind,
    code_name,
    egress_limits,
    rate_limits,
)

__all__ = [
    "TABLE",
    "AppCode",
    "Channels",
    "CodeSpec",
    "HandlerContext",
    "Kind",
    "NetOps",
    "Owner",
    "Route",
    "Sink",
    "check_inbound",
    "code_name",
    "code_switcher",
    "egress_limits",
    "forward_to_block_chain",
    "forward_to_consensus",
    "forward_to_social",
    "forward_to_test",
    "rate_limits",
]
