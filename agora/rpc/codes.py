"""JSON-RPC error codes: the standard five, and one stable number per domain.

A handler raises an AgoraError; the client gets `{"code": <number>, "message":
..., "data": {"code": "<the error's string code>", ...}}`. The number says the
domain (so a client can branch on it), `data.code` says exactly what happened.
The numbers are part of the API: never renumber, only add.
"""

from __future__ import annotations

from typing import Any

from agora.errors import AgoraError, LocalError, RemoteError

# The JSON-RPC 2.0 codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# Agora's domains, inside the -32000..-32099 range the spec leaves to servers.
CLIENT_ERROR = -32000  # the client's fault, no closer domain; data.code says which
UNSUPPORTED = -32001  # not over this transport (subscriptions need a WebSocket)
TIMEOUT = -32002  # the node did not answer in time; retrying may work
OVERLOADED = -32003  # too many requests or subscriptions in flight
NOT_FOUND = -32004  # no such block, tx, account, post, ...
UNAVAILABLE = -32005  # the node cannot serve this now (starting, syncing, stopping)
TX_REJECTED = -32010  # the mempool refused the tx; data.code is the check that failed
SUBSCRIPTION = -32020  # a subscription was refused or ended (lagged, unknown id, ...)

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    CLIENT_ERROR: "Request refused",
    UNSUPPORTED: "Not supported on this transport",
    TIMEOUT: "Timed out",
    OVERLOADED: "Overloaded",
    NOT_FOUND: "Not found",
    UNAVAILABLE: "Unavailable",
    TX_REJECTED: "Transaction rejected",
    SUBSCRIPTION: "Subscription error",
}

# String codes that other areas raise, by domain (docs/rpc.md has the table).
_DEFAULTS: dict[int, tuple[str, ...]] = {
    INVALID_PARAMS: (
        "invalid_params",
        "bad_cursor",
        "undecodable",
        "non_canonical",
        "invalid_value",
    ),
    UNSUPPORTED: ("needs_websocket",),
    TIMEOUT: ("timeout",),
    OVERLOADED: ("overloaded", "too_many_requests", "rate_limited"),
    NOT_FOUND: ("not_found",),
    UNAVAILABLE: ("unavailable", "channel_closed", "channel_broken"),
    TX_REJECTED: (
        "bad_tx",
        "bad_signature",
        "wrong_chain",
        "bad_nonce",
        "nonce_too_old",
        "nonce_gap",
        "insufficient_balance",
        "fee_too_low",
        "over_quota",
        "tx_too_large",
        "oversize",
        "expired",
        "unknown_kind",
        "bad_body",
        "body_hash_mismatch",
        "duplicate_tx",
        "mempool_full",
    ),
    SUBSCRIPTION: ("subscriber_lagged", "unknown_subscription", "too_many_subscriptions"),
}


class RpcError(RemoteError):
    """An error with an explicit JSON-RPC number, for when the string code is not enough."""

    def __init__(
        self,
        rpc_code: int,
        message: str,
        *,
        code: str = "rpc_error",
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.rpc_code = rpc_code
        self.data = data or {}


class ErrorTable:
    """String codes (and error classes) to JSON-RPC numbers; areas add theirs at setup."""

    def __init__(self) -> None:
        self.messages = dict(MESSAGES)
        self._by_code: dict[str, int] = {}
        self._by_class: dict[type[AgoraError], int] = {}
        for number, codes in _DEFAULTS.items():
            self.add(number, *codes)

    def add(self, number: int, *codes: str, message: str | None = None) -> None:
        _check_number(number)
        for code in codes:
            self._by_code[code] = number
        if message is not None:
            self.messages.setdefault(number, message)

    def add_class(self, number: int, cls: type[AgoraError]) -> None:
        """Every error of `cls` (or a subclass) gets `number`, whatever its string code."""
        _check_number(number)
        self._by_class[cls] = number

    def number(self, err: AgoraError) -> int:
        if isinstance(err, RpcError):
            return err.rpc_code
        for cls in type(err).__mro__:
            found = self._by_class.get(cls)  # type: ignore[call-overload]
            if found is not None:
                return found
        found = self._by_code.get(err.code)
        if found is not None:
            return found
        return CLIENT_ERROR if isinstance(err, RemoteError) else INTERNAL_ERROR

    def numbers(self) -> dict[int, list[str]]:
        """Each number with the string codes mapped to it (for the OpenRPC document)."""
        out: dict[int, list[str]] = {}
        for code, number in sorted(self._by_code.items()):
            out.setdefault(number, []).append(code)
        return out

    def error_object(self, err: AgoraError) -> dict[str, Any]:
        """The JSON-RPC error object for `err`. Our own faults say only their code."""
        number = self.number(err)
        data: dict[str, Any] = {"code": err.code}
        if isinstance(err, RpcError):
            data.update(err.data)
        if isinstance(err, LocalError) or number == INTERNAL_ERROR:
            message = self.messages.get(number, MESSAGES[INTERNAL_ERROR])
        else:
            message = err.message or self.messages.get(number, "Error")
        return {"code": number, "message": message, "data": data}


def _check_number(number: int) -> None:
    if not (-32099 <= number <= -32000 or number in (INVALID_PARAMS, INVALID_REQUEST)):
        msg = f"JSON-RPC domain codes are -32099..-32000, not {number}"
        raise LocalError(msg, code="bad_rpc_code")
