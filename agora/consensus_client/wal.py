"""The write-ahead log: append-only records of what this validator signed.

A record is `length (u32 BE) | crc32(payload) (u32 BE) | payload`, the payload
a msgpack `WalEntry`. `append` returns only once the record is fsynced, so a
vote that leaves the node is always in the log first.

A crash can leave a torn last record: it is cut off at open (the file is
truncated to the last good record). A bad record with good records after it
is real corruption and a LocalError: the log cannot be trusted, and guessing
could make the validator sign twice. That includes a length damaged to point
past the end of the file, which looks like a torn tail: it is one only if no
record with a good checksum starts after it.

The log keeps only the current height and the one before. Older records are
dropped from memory when a record for a new height comes, and from the file
once they add up to `REWRITE_BYTES`: the kept ones are written to a temporary
file renamed over the old (atomic on POSIX). Rewriting at every height wrote
each block two to four times and cost two extra fsyncs a height on the main
loop; a log reopened with old records in it drops them as it reads.

`append(entry, sync=False)` writes without the fsync; `sync()` fsyncs what
was written. The consensus shell appends a batch of entries and syncs once
before the first message that could carry any of them leaves.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from agora.codec import Codec, encode
from agora.consensus_client.wal_entry import WalEntry, WalState
from agora.errors import LocalError, RemoteError
from agora.logs import Log

HEADER = struct.Struct(">II")
MAX_RECORD = 256 * 1024 * 1024
# Records of dropped heights are left in the file until they are this many bytes.
REWRITE_BYTES = 16 * 1024 * 1024
_SCAN_BUDGET = 256 * 1024 * 1024  # checksum bytes spent looking past a bad length
_codec = Codec(WalEntry, MAX_RECORD, "WAL entry")
log = Log("agora.consensus.wal")


class Wal:
    """The log's logic; subclasses say where the records go."""

    def __init__(self, entries: list[WalEntry] | None = None) -> None:
        es = list(entries or [])
        top = max((e.height for e in es), default=0)
        self.entries: list[WalEntry] = [e for e in es if e.height >= top - 1]
        self.state = WalState(self.entries)

    def append(self, entry: WalEntry, *, sync: bool = True) -> None:
        """Log `entry`, fsynced unless `sync` is False (then `sync()` must follow
        before anything it records is sent)."""
        top = self.entries[-1].height if self.entries else 0
        if entry.height > top and any(e.height < entry.height - 1 for e in self.entries):
            self.entries = [e for e in self.entries if e.height >= entry.height - 1]
            self._dropped(self.entries)
        self.state.apply(entry)  # raises on a conflict, before anything is written
        self._write(entry)
        if sync:
            self.sync()
        self.entries.append(entry)
        for h in [h for h in self.state.heights if h < entry.height - 1]:
            del self.state.heights[h]

    def sync(self) -> None:
        """Make every record written so far durable."""

    def _write(self, entry: WalEntry) -> None:
        raise NotImplementedError

    def _dropped(self, kept: list[WalEntry]) -> None:
        """Older heights left memory; `kept` is what remains."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class MemoryWal(Wal):
    """Same rules, kept in memory (the simulator's crashes keep it, like a disk)."""

    def _write(self, entry: WalEntry) -> None:
        pass

    def _dropped(self, kept: list[WalEntry]) -> None:
        pass


def frame(entry: WalEntry) -> bytes:
    payload = encode(entry)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def parse(data: bytes, name: str = "WAL") -> tuple[list[WalEntry], int]:
    """The entries in `data` and the length of its good part (a torn tail excluded)."""
    entries: list[WalEntry] = []
    pos = 0
    while pos < len(data):
        bad = _bad_record(data, pos)
        if bad is None:
            (length, _) = HEADER.unpack_from(data, pos)
            end = pos + HEADER.size + length
            try:
                entries.append(_codec.decode(data[pos + HEADER.size : end]))
            except RemoteError as e:
                raise LocalError(
                    f"{name}: record at byte {pos} has a good checksum but does not decode: {e}",
                    code="wal_corrupt",
                ) from None
            pos = end
            continue
        torn = bad == "past_end" or not data[pos:].strip(b"\x00") or bad == "last_crc"
        if torn and bad == "past_end":
            # A length damaged to point past the end looks torn too; a good record after
            # it says it was not the last one.
            torn = _good_record_after(data, pos) is None
        if not torn:
            raise LocalError(
                f"{name}: record at byte {pos} of {len(data)} is corrupt ({bad}) and is not "
                "the last; refusing to guess what this validator signed",
                code="wal_corrupt",
            )
        break
    return entries, pos


def _good_record_after(data: bytes, start: int) -> int | None:
    """Where a record with a good checksum starts after `start`, if anywhere. Past
    `_SCAN_BUDGET` bytes of checksums the answer is `start` (assume there is one: a
    log we cannot read cheaply is refused, never guessed at)."""
    budget = _SCAN_BUDGET
    end = len(data)
    for q in range(start + 1, end - HEADER.size + 1):
        length, crc = HEADER.unpack_from(data, q)
        if 0 < length <= end - q - HEADER.size:
            budget -= length
            if budget < 0:
                return start
            if zlib.crc32(data[q + HEADER.size : q + HEADER.size + length]) == crc:
                return q
    return None


def _bad_record(data: bytes, pos: int) -> str | None:
    if len(data) - pos < HEADER.size:
        return "past_end"
    length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if end > len(data):
        return "past_end"
    if length == 0 or length > MAX_RECORD:
        return "bad_length"
    if zlib.crc32(data[pos + HEADER.size : end]) != crc:
        return "last_crc" if end == len(data) else "bad_crc"
    return None


class FileWal(Wal):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.path.read_bytes() if self.path.exists() else b""
        entries, good = parse(data, str(self.path))
        super().__init__(entries)  # a conflict among them raises before the file is touched
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if good < len(data):
            log.warning(
                "wal_torn_tail_cut", path=str(self.path), kept=good, dropped=len(data) - good
            )
            os.ftruncate(self._fd, good)
            os.fsync(self._fd)
        self._size = good  # the file's length
        self._dirty = False  # written since the last fsync
        # Bytes in the file per height still held (the rest belong to dropped heights).
        self._held: dict[int, int] = {}
        for e in self.entries:
            self._held[e.height] = self._held.get(e.height, 0) + len(frame(e))

    def _write(self, entry: WalEntry) -> None:
        record = frame(entry)
        written = os.write(self._fd, record)
        if written != len(record):
            raise LocalError(f"{self.path}: short write to the WAL", code="wal_write")
        self._dirty = True
        self._size += written
        self._held[entry.height] = self._held.get(entry.height, 0) + written

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            self._dirty = False

    def _dropped(self, kept: list[WalEntry]) -> None:
        heights = {e.height for e in kept}
        self._held = {h: n for h, n in self._held.items() if h in heights}
        if self._size - sum(self._held.values()) >= REWRITE_BYTES:
            self._rewrite(kept)

    def _rewrite(self, entries: list[WalEntry]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = b"".join(frame(e) for e in entries)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self._size, self._dirty = len(data), False

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1
