"""SIGKILL a process that commits blocks, many times; the store must always reopen at
the last committed block with the state root of an in-memory replay."""

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec

from agora.blockchain.crash_child import advance, open_chain
from agora.blockchain.tx import Envelope

KILLS = 55
SEED = "crash-seed"
envelope = msgspec.msgpack.Decoder(Envelope)


def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    db = tmp_path / "chain.db"
    server = subprocess.Popen(
        [sys.executable, "-m", "agora.blockchain.crash_child", SEED],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert server.stdin is not None and server.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    ref, ref_driver, users = open_chain(":memory:", SEED)
    rnd = random.Random(1234)
    reported = 0  # the highest height a child said it committed
    stats = {"runs": 0, "at_report": 0, "ahead_of_report": 0}
    try:
        for run in range(KILLS):
            server.stdin.write(f"run {db}\n")
            server.stdin.flush()
            pid = None
            deadline = time.monotonic() + 30
            while pid is None:
                words = lines.get(timeout=max(0.1, deadline - time.monotonic())).split()
                if words[0] == "pid":
                    pid = int(words[1])
            if run % 5 == 4:
                # However loaded the machine, make progress: wait for one new block.
                while True:
                    words = lines.get(timeout=max(0.1, deadline - time.monotonic())).split()
                    if words[0] == "h":
                        reported = max(reported, int(words[1]))
                        break
            # Let it run a random while (sometimes not even past opening the store).
            time.sleep(rnd.choice([0.0, 0.002, 0.01, 0.03]) + rnd.random() * 0.12)
            os.kill(pid, signal.SIGKILL)
            status = None
            while status is None:
                words = lines.get(timeout=max(0.1, deadline - time.monotonic())).split()
                if words[0] == "h":
                    reported = max(reported, int(words[1]))
                elif words[0] == "exit":
                    assert int(words[1]) == pid
                    status = int(words[2])
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            stats["runs"] += 1

            chain, _, _ = open_chain(db, SEED)
            try:
                h = chain.height
                # Killed between the commit and its report: at most one block more.
                assert reported <= h <= reported + 1, (reported, h)
                stats["at_report"] += h == reported
                stats["ahead_of_report"] += h == reported + 1
                while ref.height < h:
                    advance(ref_driver, SEED, users)
                assert chain.state_root == ref.state_root
                assert chain.last_block_id == ref.last_block_id
                conn = chain.store.conn
                assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
                # Index rows committed with their block, and only for txs that succeeded.
                rows = conn.execute("SELECT COUNT(*) FROM tally_log").fetchone()[0]
                ok = sum(
                    code == "ok" and envelope.decode(bytes(raw[:-64])).kind == "tally"
                    for raw, code in conn.execute("SELECT tx, code FROM txs")
                )
                assert rows == ok
                assert conn.execute("SELECT COUNT(*) FROM txs").fetchone()[0] == h * 16
                reported = h
            finally:
                chain.close()
    finally:
        server.stdin.close()
        server.kill()
        server.wait(timeout=10)
        ref.close()
    print("crash test:", stats, "height", reported)
    assert stats["runs"] == KILLS
    assert reported >= KILLS // 5  # the kills landed while blocks were being committed
