"""`agora bench p2p`: the whole peer_net path against plain asyncio streams.

Two PeerNet services on one event loop (uvloop when installed), joined over
loopback TCP. Throughput is one-way: a sending actor puts one
`SendTo(TEST_DIRECT)` command a message on its spsc channel; peer_net queues
them, seals what is queued at each flush into BATCH frames, and writes; the
other peer_net reads, authenticates, decrypts, unpacks, checks each packet,
rate-limits (lifted here) and hands each read's `Inbound` events to the
receiving actor's channel in one send; the actor counts them. TEST_DIRECT is
point to point, so this is the transport; the same bodies as TEST_GOSSIP
also pass the gossip seen-cache (`gossip_*` keys). The baseline sends the
same bodies over plain asyncio streams with 4-byte length framing on the same
loop (bench_plain.py: `write` and `readexactly` per message, as the issue
describes; a hand-batched variant is reported for scale). Everything is
measured in CPU seconds of this process (both ends run in it), best of
several interleaved rounds, since the machine may be shared.

What limits the ratio (1 KiB, per message, both ends; user-space
instructions counted with callgrind): peer_net about 48 000, the plain
streams about 21 000. ChaCha20-Poly1305 is about 10 000 of peer_net's, now
per byte rather than per call (one AEAD call seals a batch of about 50
packets); copies add 5 000 to 7 000. The rest, about 25 000, is CPython
running the layers: about ten Python calls and four objects per message (the
`SendTo` command, the queued packet, the `PacketReceived` event, the
`Inbound` event) over two spsc hops and two actors. Gossip adds a SHA-256 of
the body and two dict probes. Against the hand-batched plain streams, which
do almost nothing per message in Python, peer_net is about 0.3.
"""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Callable
from typing import Any

from agora import runtime
from agora.peer_net.bench_actors import Receiver, Sender, handshake_clients, start_pair
from agora.peer_net.bench_plain import plain_rate
from agora.peer_net.handlers import AppCode

SIZES = (256, 1024)
_GOSSIP = AppCode.TEST_GOSSIP
WINDOW = 4096  # packets in flight between the sending and the receiving actor

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


async def _main(quick: bool, progress: Progress) -> dict[str, Any]:
    n = 2_000 if quick else 30_000
    rounds = 1 if quick else 5
    result: dict[str, Any] = {}
    async with start_pair() as (_, b, sender, receiver):
        tag = 0
        for size in SIZES:
            p2p = plain = gossip = tuned = 0.0
            for _ in range(rounds):  # interleaved, so all see the same machine load
                tag += 1
                bodies = _bodies(size, n, tag)
                p2p = max(p2p, await p2p_rate(sender, receiver, bodies))
                plain = max(plain, await plain_rate(bodies))
                gossip = max(gossip, await p2p_rate(sender, receiver, bodies, _GOSSIP))
                tuned = max(tuned, await plain_rate(bodies, batched=True))
            progress(
                f"{size} B, messages per CPU second (both ends): peer_net {p2p:,.0f} "
                f"(TEST_DIRECT), {gossip:,.0f} (TEST_GOSSIP, through the seen-cache); "
                f"plain streams {plain:,.0f} (write and readexactly per message), "
                f"{tuned:,.0f} (hand-batched)"
            )
            result[f"p2p_msgs_per_s_{size}"] = round(p2p)
            result[f"plain_msgs_per_s_{size}"] = round(plain)
            result[f"ratio_{size}"] = round(p2p / plain, 3)
            result[f"gossip_msgs_per_s_{size}"] = round(gossip)
            result[f"gossip_ratio_{size}"] = round(gossip / plain, 3)
            result[f"plain_batched_msgs_per_s_{size}"] = round(tuned)
            result[f"ratio_batched_{size}"] = round(p2p / tuned, 3)
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
EXTRA_KEYS = (
    # the gossip path: the same bodies as TEST_GOSSIP, through the seen-cache
    "gossip_msgs_per_s_256",
    "gossip_ratio_256",
    "gossip_msgs_per_s_1024",
    "gossip_ratio_1024",
    # the hand-batched plain streams (bench_plain.py), and peer_net against them
    "plain_batched_msgs_per_s_256",
    "ratio_batched_256",
    "plain_batched_msgs_per_s_1024",
    "ratio_batched_1024",
)


def run(quick: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole benchmark on a fresh loop; the result has `KEYS` and `EXTRA_KEYS`."""
    return runtime.run(_main(quick, progress or (lambda msg: None)))
