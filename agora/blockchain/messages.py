"""Messages on the blockchain actor's inbound channels.

The RPC actor asks with `SubmitTx` (through `Context.ask`); the blockchain
actor answers on the RPC inbox with `Answer(ticket, result=<tx hash hex>)` or
`Answer(ticket, error=<TxError>)`. The consensus requests and replies are
added here by the node integration.
"""

from __future__ import annotations

import msgspec


class SubmitTx(msgspec.Struct, frozen=True, tag=True):
    """A client's encoded tx for the mempool; `ticket` identifies the waiting RPC call."""

    ticket: int
    tx: bytes
