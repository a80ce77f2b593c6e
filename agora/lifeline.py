"""A node that `agora devnet` started stops when the devnet process dies, even by SIGKILL.

The devnet passes its pid in the environment; the node asks Linux for SIGTERM when its
parent goes (PR_SET_PDEATHSIG) and, in case that already happened, compares its parent
pid. Set in the node itself rather than in a `preexec_fn`, which is unsafe when the
parent has threads.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

ENV = "AGORA_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_env() -> dict[str, str]:
    """The environment for a child that must not outlive this process. Start the child
    from the main thread: Linux signals it when the thread that forked it ends."""
    return {**os.environ, ENV: str(os.getpid())}


def hold() -> None:
    """In the child, first thing: SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    raw = os.environ.pop(ENV, None)
    if raw is None or not raw.isdigit() or sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(raw):  # gone before we asked
        os.kill(os.getpid(), signal.SIGTERM)
