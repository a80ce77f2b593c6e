"""Peer addresses as `host:port` strings: strict parsing and the loopback rule.

Addresses arrive from peers (peer exchange, the handshake's listen address),
so parsing never trusts its input: anything malformed is a RemoteError with
the stable code `bad_address`.
"""

from __future__ import annotations

import ipaddress
import re

from agora.errors import RemoteError

MAX_ADDR_LEN = 262  # "[" + 253-char DNS name + "]:" + 5 digits, with room to spare
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")


def _bad(text: object, why: str) -> RemoteError:
    return RemoteError(f"bad address {text!r}: {why}", code="bad_address", penalty=20)


def parse_addr(text: object) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `name:port` to (host, port); port 0 is refused.

    Unspecified hosts (0.0.0.0, ::) are refused too: nobody can dial them.
    """
    if not isinstance(text, str):
        raise _bad(text, "not a string")
    if not text or len(text) > MAX_ADDR_LEN or not text.isascii():
        raise _bad(text, "empty, too long or not ASCII")
    host, sep, port_text = text.rpartition(":")
    if not sep or not _PORT.fullmatch(port_text):
        raise _bad(text, "no port")
    port = int(port_text)
    if not 0 < port <= 65535:
        raise _bad(text, "port out of range")
    if host.startswith("["):
        if not host.endswith("]"):
            raise _bad(text, "unclosed bracket")
        host = host[1:-1]
        try:
            ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad(text, "not an IPv6 address") from None
    elif ":" in host:
        raise _bad(text, "IPv6 address without brackets")
    else:
        try:
            ip = ipaddress.IPv4Address(host)
        except ValueError:
            if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
                raise _bad(text, "not an IP address or host name") from None
            return host.lower(), port
    if ip.is_unspecified or ip.is_multicast:
        raise _bad(text, "unspecified or multicast address")
    return ip.compressed, port


def format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def normalize_addr(text: object) -> str:
    """The one spelling of an address, so an address book never holds it twice."""
    return format_addr(*parse_addr(text))


def host_of(addr: str) -> str:
    """The host part of an address we made ourselves (socket peername, normalized)."""
    host = addr.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """Loopback hosts, including `localhost` and IPv4-mapped 127.x in IPv6."""
    if host.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback
