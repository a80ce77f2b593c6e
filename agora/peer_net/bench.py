"""`agora bench p2p`: the whole peer_net path against plain asyncio streams.

Two PeerNet services on one event loop (uvloop when installed), joined over
loopback TCP. Throughput is one-way: a sending actor puts `SendTo(TEST_GOSSIP)`
commands on its spsc channel; peer_net marshals, encrypts, frames and writes
them; the other peer_net reads, authenticates, decrypts, checks, rate-limits
(lifted here), passes the gossip seen-cache and puts `Inbound` events on the
receiving actor's channel, which counts them. The baseline sends the same
bodies over plain asyncio streams with 4-byte length framing on the same
loop. Both are measured in CPU seconds of this process (both ends run in
it), best of several interleaved rounds, since the machine may be shared.

What limits the ratio (1 KiB, CPU per packet, both ends): the plain path is
about 5 µs in all. On the peer_net path, ChaCha20-Poly1305 alone (one
`encrypt` and one `decrypt` through `cryptography`, which holds the GIL) is
about 4.5 µs, and the gossip seen-cache about 3.5 µs (a SHA-256 of the body
plus two large LRU dicts, the 100 000-item seen-cache and the sender's
have-set). The rest is CPython per-packet work: the Connection's header and
event structs, the router's checks and dispatch, the two spsc hops and the
actors. Together about 20 µs: so about 0.2 to 0.25 of the baseline here.
"""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
from collections.abc import Callable
from typing import Any

from agora import runtime
from agora.peer_net.bench_actors import Receiver, Sender, handshake_clients, start_pair
from agora.peer_net.handlers import AppCode

SIZES = (256, 1024)
_GOSSIP = AppCode.TEST_GOSSIP
WINDOW = 4096  # packets in flight between the sending and the receiving actor
PLAIN_BATCH = 64  # the baseline drains its writer every this many packets

Progress = Callable[[str], None]


def _bodies(size: int, n: int, tag: int) -> list[bytes]:
    """Distinct bodies (the gossip seen-cache drops repeats)."""
    pad = bytes(size - 12)
    return [struct.pack(">IQ", tag, i) + pad for i in range(n)]


async def p2p_rate(
    sender: Sender, receiver: Receiver, bodies: list[bytes], code: int = AppCode.TEST_DIRECT
) -> float:
    """Packets per CPU second, from the sending actor's channel to the receiving one's."""
    receiver.reset()
    t = time.process_time()
    await sender.send_all(code, bodies, receiver, WINDOW)
    await receiver.wait_count(len(bodies))
    return len(bodies) / max(time.process_time() - t, 1e-9)


async def plain_rate(bodies: list[bytes]) -> float:
    """The same bodies over plain asyncio streams with 4-byte length framing."""
    n = len(bodies)
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(n):
            head = await reader.readexactly(4)
            await reader.readexactly(int.from_bytes(head, "big"))
        done.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    t = time.process_time()
    for i in range(0, n, PLAIN_BATCH):
        for body in bodies[i : i + PLAIN_BATCH]:
            writer.write(len(body).to_bytes(4, "big") + body)
        await writer.drain()
    await done.wait()
    dt = time.process_time() - t
    writer.close()
    server.close()
    await server.wait_closed()
    return n / max(dt, 1e-9)


async def _main(quick: bool, progress: Progress) -> dict[str, Any]:
    n = 2_000 if quick else 30_000
    rounds = 1 if quick else 5
    result: dict[str, Any] = {}
    async with start_pair() as (_, b, sender, receiver):
        tag = 0
        for size in SIZES:
            p2p = plain = gossip = 0.0
            for _ in range(rounds):  # interleaved, so all see the same machine load
                tag += 1
                bodies = _bodies(size, n, tag)
                p2p = max(p2p, await p2p_rate(sender, receiver, bodies))
                plain = max(plain, await plain_rate(bodies))
                gossip = max(gossip, await p2p_rate(sender, receiver, bodies, _GOSSIP))
            progress(
                f"{size} B, packets per CPU second: peer_net {p2p:,.0f} (TEST_DIRECT), "
                f"{gossip:,.0f} (TEST_GOSSIP, through the seen-cache), plain streams {plain:,.0f}"
            )
            result[f"p2p_msgs_per_s_{size}"] = round(p2p)
            result[f"plain_msgs_per_s_{size}"] = round(plain)
            result[f"ratio_{size}"] = round(p2p / plain, 3)
            result[f"gossip_msgs_per_s_{size}"] = round(gossip)
            result[f"gossip_ratio_{size}"] = round(gossip / plain, 3)
        rtts = await sender.round_trips(100 if quick else 2_000)
        result["rtt_us_p50"] = round(statistics.median(rtts) * 1e6, 1)
        progress(f"request/response round trip p50: {result['rtt_us_p50']} µs")
        count = 40 if quick else 400
        dt = await handshake_clients(b, receiver, count, concurrency=8)
        result["handshakes_per_s"] = round(count / dt, 1)
        progress(f"handshakes: {result['handshakes_per_s']}/s")
    return {k: result[k] for k in KEYS + EXTRA_KEYS}


KEYS = (
    "p2p_msgs_per_s_256",
    "plain_msgs_per_s_256",
    "ratio_256",
    "p2p_msgs_per_s_1024",
    "plain_msgs_per_s_1024",
    "ratio_1024",
    "rtt_us_p50",
    "handshakes_per_s",
)
EXTRA_KEYS = (  # the gossip path: the same bodies as TEST_GOSSIP, through the seen-cache
    "gossip_msgs_per_s_256",
    "gossip_ratio_256",
    "gossip_msgs_per_s_1024",
    "gossip_ratio_1024",
)


def run(quick: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole benchmark on a fresh loop; the result has `KEYS` and `EXTRA_KEYS`."""
    return runtime.run(_main(quick, progress or (lambda msg: None)))
