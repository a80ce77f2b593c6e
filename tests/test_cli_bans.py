"""`agora bans --home DIR`: list a stopped node's peer bans and lift them."""

from __future__ import annotations

import time
from pathlib import Path

from click.testing import CliRunner

from agora.cli import main
from agora.config import Home
from agora.home_lock import HomeLock
from agora.peer_net.bans import BanList

A = bytes.fromhex("0a" * 32)


def _home(tmp_path: Path) -> Path:
    r = CliRunner().invoke(main, ["init", "--home", str(tmp_path / "h")])
    assert r.exit_code == 0, r.output
    return tmp_path / "h"


def test_list_and_lift_bans_of_a_stopped_node(tmp_path: Path) -> None:
    home = _home(tmp_path)
    now = time.time()
    bl = BanList(Home(home).p2p / "bans.json", now)
    bl.ban(A, "203.0.113.9", "unsolicited_response", 600.0, now)
    run = CliRunner().invoke
    listed = run(main, ["bans", "--home", str(home)])
    assert listed.exit_code == 0, listed.output
    assert "0a0a0a0a" in listed.output and "unsolicited_response" in listed.output
    lifted = run(main, ["bans", "--home", str(home), "--lift", "0a0a0a0a0a0a"])
    assert lifted.exit_code == 0 and "lifted 1 ban" in lifted.output, lifted.output
    assert BanList(Home(home).p2p / "bans.json", time.time()).bans(time.time()) == []
    assert "no bans" in run(main, ["bans", "--home", str(home)]).output


def test_a_running_node_keeps_its_bans_file(tmp_path: Path) -> None:
    home = _home(tmp_path)
    lock = HomeLock.acquire(home)  # as a running node holds it
    try:
        r = CliRunner().invoke(main, ["bans", "--home", str(home), "--lift-all"])
    finally:
        lock.release()
    assert r.exit_code != 0 and "home_locked" in r.output


def test_a_home_that_is_not_one(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["bans", "--home", str(tmp_path / "nothing")])
    assert r.exit_code != 0 and "no_home" in r.output
