"""Errors that say whose fault they are (the h11 convention).

`LocalError` is our own fault (a bug, a bad config, a misuse of an API).
`RemoteError` is the fault of whoever sent us the data: a peer or a client.
Every error has a stable `code` that clients and logs can rely on.
"""

from __future__ import annotations


class AgoraError(Exception):
    """Base of every error Agora raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


class LocalError(AgoraError):
    """Our fault: a bug, a bad configuration or an API used the wrong way."""

    code = "local"


class RemoteError(AgoraError):
    """The sender's fault. `penalty` is what it costs a peer's score (0 for clients)."""

    code = "remote"

    def __init__(self, message: str, *, code: str | None = None, penalty: int = 0) -> None:
        super().__init__(message, code=code)
        self.penalty = penalty
