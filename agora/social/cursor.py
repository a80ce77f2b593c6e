"""Opaque cursors: where a page ended (queries) or the last item a client has (streams).

A tx's place in the chain is (height, index): "h.i". A notification adds its
number within the tx: "h.i.n". Clients must treat them as opaque strings; they
are readable only to make logs and bug reports easier.
"""

from __future__ import annotations

import re

from agora.blockchain.schema import TX_ID_BITS
from agora.errors import RemoteError

_MASK = (1 << TX_ID_BITS) - 1
_SEQ = re.compile(r"(\d{1,12})\.(\d{1,7})")
_NID = re.compile(r"(\d{1,12})\.(\d{1,7})\.(\d{1,3})")
_NUM = re.compile(r"[a-z]\.(\d{1,18})")
MAX_SEQ = (1 << 54) - 1  # so that a notification number (seq << 8 | n) fits in 63 bits


def _bad(what: str) -> RemoteError:
    return RemoteError(f"not a {what} cursor", code="bad_cursor")


def seq_cursor(seq: int) -> str:
    return f"{seq >> TX_ID_BITS}.{seq & _MASK}"


def parse_seq(raw: object) -> int:
    m = _SEQ.fullmatch(raw) if isinstance(raw, str) else None
    if m is None or int(m.group(2)) > _MASK:
        raise _bad("post")
    seq = int(m.group(1)) << TX_ID_BITS | int(m.group(2))
    if seq > MAX_SEQ:
        raise _bad("post")
    return seq


def nid_cursor(nid: int) -> str:
    seq = nid >> 8
    return f"{seq >> TX_ID_BITS}.{seq & _MASK}.{nid & 0xFF}"


def parse_nid(raw: object) -> int:
    m = _NID.fullmatch(raw) if isinstance(raw, str) else None
    if m is None or int(m.group(2)) > _MASK or int(m.group(3)) > 0xFF:
        raise _bad("notification")
    seq = int(m.group(1)) << TX_ID_BITS | int(m.group(2))
    if seq > MAX_SEQ:
        raise _bad("notification")
    return seq << 8 | int(m.group(3))


def num_cursor(prefix: str, n: int) -> str:
    return f"{prefix}.{n}"


def parse_num(prefix: str, raw: object) -> int:
    m = _NUM.fullmatch(raw) if isinstance(raw, str) else None
    if m is None or not m.group().startswith(prefix + "."):
        raise _bad(prefix)
    return int(m.group(1))
