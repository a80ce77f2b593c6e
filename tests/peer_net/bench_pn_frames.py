"""Measure the encrypted frame path (not a test; pytest does not collect it).

    .venv/bin/python tests/peer_net/bench_pn_frames.py

1. AEAD alone: cryptography vs PyNaCl, per call.
2. sans-IO: send_packet -> data_to_send -> receive_data on one core.
3. Over loopback TCP in one asyncio loop: Connection behind asyncio Protocols
   vs plain length-framed asyncio streams (the baseline a later benchmark uses).

CPU time (process_time), best of several runs: the machine is shared.
The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nacl.bindings as sodium
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

sys.path.insert(0, str(Path(__file__).parent))
from pn_util import Pair, make

SIZES = (256, 1024)


def best_rate(fn: Callable[[], int], runs: int = 5) -> float:
    best = 0.0
    for _ in range(runs):
        t = time.process_time()
        n = fn()
        best = max(best, n / max(time.process_time() - t, 1e-9))
    return best


def aead(size: int, n: int = 50_000) -> dict[str, float]:
    key, aad, nonce, body = os.urandom(32), bytes(19), bytes(12), bytes(size)
    c = ChaCha20Poly1305(key)
    sealed = c.encrypt(nonce, body, aad)

    def crypto_rt() -> int:
        for _ in range(n):
            c.decrypt(nonce, c.encrypt(nonce, body, aad), aad)
        return n

    def nacl_rt() -> int:
        enc = sodium.crypto_aead_chacha20poly1305_ietf_encrypt
        dec = sodium.crypto_aead_chacha20poly1305_ietf_decrypt
        for _ in range(n):
            dec(enc(body, aad, nonce, key), aad, nonce, key)
        return n

    assert sodium.crypto_aead_chacha20poly1305_ietf_decrypt(sealed, aad, nonce, key) == body
    return {"cryptography": best_rate(crypto_rt), "pynacl": best_rate(nacl_rt)}


def sansio(size: int, n: int = 32_000, batch: int = 64) -> float:
    pair = Pair.new().connect()
    a, b, body = pair.init, pair.resp, bytes(size)

    def run() -> int:
        got = 0
        for _ in range(n // batch):
            for _ in range(batch):
                a.send_packet(20, body)
            got += len(b.receive_data(a.data_to_send()))
        assert got == n // batch * batch
        return got

    return best_rate(run)


async def over_asyncio(size: int, n: int = 32_000, batch: int = 64) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    ready: asyncio.Future[None] = loop.create_future()
    count = 0

    class Side(asyncio.Protocol):
        def __init__(self, role: str) -> None:
            self.conn = make(role)
            self.is_server = role == "responder"

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.conn.start()
            self.transport.write(self.conn.data_to_send())

        def data_received(self, data: bytes) -> None:
            nonlocal count
            events = self.conn.receive_data(data)
            if self.is_server:
                count += len(events)
                if count > n and not done.done():
                    done.set_result(None)
            elif events and not ready.done():
                ready.set_result(None)
            out = self.conn.data_to_send()
            if out:
                self.transport.write(out)

    server = await loop.create_server(lambda: Side("responder"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(lambda: Side("initiator"), "127.0.0.1", port)
    await ready
    body, conn = bytes(size), client.conn
    t = time.process_time()
    for _ in range(n // batch):
        for _ in range(batch):
            conn.send_packet(20, body)
        transport.write(conn.data_to_send())
        await asyncio.sleep(0)
    await done
    dt = time.process_time() - t
    transport.close()
    server.close()
    return n / dt


async def plain_streams(size: int, n: int = 32_000, batch: int = 64) -> float:
    done = asyncio.Event()
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        while count < n:
            head = await reader.readexactly(4)
            await reader.readexactly(int.from_bytes(head, "big"))
            count += 1
        done.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    body = bytes(size)
    t = time.process_time()
    for _ in range(n // batch):
        for _ in range(batch):
            writer.write(len(body).to_bytes(4, "big") + body)
        await writer.drain()
    await done.wait()
    dt = time.process_time() - t
    writer.close()
    server.close()
    return n / dt


def main() -> None:
    result: dict[str, object] = {}
    for size in SIZES:
        rates = aead(size)
        print(
            f"AEAD {size} B encrypt+decrypt/s: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items())
        )
        result[f"aead_{size}"] = rates
    for size in SIZES:
        rate = sansio(size)
        print(f"sans-IO {size} B: {rate:,.0f} packets/s (send + receive, one core)")
        result[f"sansio_{size}"] = rate
    for size in SIZES:
        enc = plain = 0.0
        for _ in range(5):  # interleaved, so both see the same machine load
            enc = max(enc, asyncio.run(over_asyncio(size)))
            plain = max(plain, asyncio.run(plain_streams(size)))
        print(
            f"asyncio {size} B: encrypted {enc:,.0f}/s, plain streams {plain:,.0f}/s, "
            f"ratio {enc / plain:.2f}"
        )
        result[f"asyncio_{size}"] = {"encrypted": enc, "plain": plain, "ratio": enc / plain}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
