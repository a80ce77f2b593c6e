"""The baselines of `agora bench p2p`: the same bodies over plain asyncio streams.

Both use 4-byte big-endian length framing, on the loop the benchmark runs
on, and count CPU seconds of this process (both ends run in it), as the
peer_net measurement does.

- `idiomatic` (the headline baseline, as the issue describes it): the
  sender calls `writer.write(length + body)` for each message and `drain()`
  every `PLAIN_BATCH`; the receiver calls `readexactly` for each length and
  each body.
- `batched`: hand-tuned plain streams, for scale. The sender hands each
  `PLAIN_BATCH` messages to one `writelines` (one send instead of one per
  message); the receiver reads whole chunks and cuts the frames out itself,
  as peer_net's `Incoming` does. Each message still becomes its own bytes.
"""

from __future__ import annotations

import asyncio
import time

PLAIN_BATCH = 64  # the sender drains its writer every this many messages
_READ = 1 << 18


async def plain_rate(bodies: list[bytes], *, batched: bool = False) -> float:
    """Messages per CPU second over one plain stream on loopback."""
    n = len(bodies)
    done = asyncio.Event()
    got: list[int] = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if batched:
                got[0] = await _read_chunks(reader, n)
            else:
                for _ in range(n):
                    head = await reader.readexactly(4)
                    await reader.readexactly(int.from_bytes(head, "big"))
                got[0] = n
        finally:
            done.set()
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    t = time.process_time()
    for i in range(0, n, PLAIN_BATCH):
        chunk = bodies[i : i + PLAIN_BATCH]
        if batched:
            parts: list[bytes] = []
            for body in chunk:
                parts += (len(body).to_bytes(4, "big"), body)
            writer.writelines(parts)
        else:
            for body in chunk:
                writer.write(len(body).to_bytes(4, "big") + body)
        await writer.drain()
    await done.wait()
    dt = time.process_time() - t
    writer.close()
    server.close()
    await server.wait_closed()
    if got[0] != n:
        raise RuntimeError(f"the plain receiver got {got[0]} of {n} messages")
    return n / max(dt, 1e-9)


async def _read_chunks(reader: asyncio.StreamReader, n: int) -> int:
    """Read until `n` framed messages arrived, each copied out as bytes; how many did."""
    buf = bytearray()
    count = 0
    while count < n:
        data = await reader.read(_READ)
        if not data:
            break
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= 4:
            end = pos + 4 + int.from_bytes(buf[pos : pos + 4], "big")
            if end > size:
                break
            bytes(buf[pos + 4 : end])  # the message, as a receiver would hand it on
            count += 1
            pos = end
        del buf[:pos]
    return count
