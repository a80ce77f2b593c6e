"""peer_net's small JSON state files (bans, address book): atomic and forgiving.

A write goes to a temporary file that is fsynced and then renamed over the old
one, so a crash leaves the old or the new content, never a mix. A file that
does not decode is moved aside with a logged warning and the caller starts
from empty: these files are caches of what the node learned, and refusing to
start over one would turn a disk hiccup into an outage. `read_json` returns the
decoded value or None (missing, or moved aside to `<name>.corrupt`); whatever
the bytes, it raises nothing but LocalError `state_unreadable`. A file we cannot read
at all (permissions, a directory in its place) is an operator's problem and a
LocalError, since every later write would fail too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import msgspec

from agora.config import write_atomic
from agora.errors import LocalError
from agora.logs import Log

T = TypeVar("T")
MAX_STATE_FILE = 16 * 1024 * 1024
_log = Log("agora.peer_net.state")


def write_json_atomic(path: Path, value: object) -> None:
    """`config.write_atomic` of the JSON encoding; a failure is `state_unwritable`."""
    data = msgspec.json.encode(value)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
    except OSError as e:
        raise LocalError(f"cannot write {path}: {e}", code="state_unwritable") from None


def read_json(path: Path, type_: type[T]) -> T | None:
    """The decoded file, or None when it is missing or corrupt (moved aside)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_STATE_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LocalError(f"cannot read {path}: {e}", code="state_unreadable") from None
    try:
        if len(data) > MAX_STATE_FILE:
            raise msgspec.DecodeError(f"over {MAX_STATE_FILE} bytes")
        return msgspec.json.decode(data, type=type_)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as e:
        # msgspec raises UnicodeDecodeError for a str that is not UTF-8
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
        except OSError:
            aside = path
        _log.warning("state_file_corrupt", path=str(path), moved_to=str(aside), error=str(e))
        return None
