"""`agora genesis …` and `agora.genesis_tool`: assembling a real network's genesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agora.blockchain.genesis import Genesis, load_genesis, make_dev_genesis
from agora.cli import main
from agora.errors import LocalError
from agora.genesis_tool import (
    add_balance,
    add_validator,
    has_dev_faucet,
    install_genesis,
    new_genesis,
    remove_validator,
)
from agora.node_home import HomeSpec, init_home

K1, K2, ADDR = b"\x01" * 32, b"\x02" * 32, b"\xab" * 32


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["genesis", *args])
    return r.exit_code, r.output


def _home(root: Path, genesis: Genesis | None = None) -> Path:
    init_home(root, HomeSpec(name=root.name, validator=genesis is None), genesis=genesis)
    return root


def test_edits_keep_a_valid_genesis_without_a_faucet() -> None:
    g = new_genesis("net-1", [(K1, 10)], [(ADDR, 7)], genesis_time_ms=1_000)
    assert not has_dev_faucet(g)
    assert has_dev_faucet(make_dev_genesis("d", [K1]))
    g = add_balance(add_validator(g, K2, 5), ADDR, 3)
    assert [(v.pub_key, v.power) for v in g.validators] == [(K1, 10), (K2, 5)]
    assert [(b.address, b.amount) for b in g.balances] == [(ADDR, 10)]
    assert g.module_params("social", dict)["max_post_chars"] == 1000
    with pytest.raises(LocalError) as e:
        add_validator(g, K2, 1)
    assert e.value.code == "duplicate"
    g = remove_validator(g, K2)
    with pytest.raises(LocalError) as e:
        remove_validator(g, K1)  # the last one: a chain needs a validator
    assert e.value.code == "bad_genesis"
    with pytest.raises(LocalError) as e:
        new_genesis("Bad Name", [(K1, 1)])
    assert e.value.code == "bad_genesis"


def test_cli_assembles_from_homes_and_installs(tmp_path: Path) -> None:
    a, b = _home(tmp_path / "a"), _home(tmp_path / "b")
    f = tmp_path / "g.json"
    code, out = _run("new", str(f), "--chain-id", "net-1", "--validator-home", str(a),
                     "--balance", f"{ADDR.hex()}=500")  # fmt: skip
    assert code == 0, out
    assert "net-1" in out and "devnet faucet" not in out
    code, out = _run("add-validator", str(f), "--home", str(b), "--power", "5")
    assert code == 0, out
    code, out = _run("add-validator", str(f), "--home", str(b))
    assert code == 1 and "[duplicate]" in out
    code, out = _run("add-balance", str(f), ADDR.hex(), "5")
    assert code == 0, out
    g = load_genesis(f)
    assert len(g.validators) == 2 and g.balances[0].amount == 505
    for home in (a, b):
        code, out = _run("install", str(f), "--home", str(home))
        assert code == 0, out
        assert load_genesis(home / "genesis.json").hash() == g.hash()
    code, out = _run("new", str(f), "--chain-id", "x", "--validator", "zz=1")
    assert code == 1 and "exists" in out
    code, out = _run("new", str(f), "--force", "--chain-id", "x", "--validator", "zz=1")
    assert code == 1 and "[bad_key]" in out
    code, out = _run("new", str(f), "--force", "--chain-id", "x", "--validator", K1.hex())
    assert code == 2 and "HEX=NUMBER" in out
    code, out = _run("add-validator", str(f))
    assert code == 2
    full = _home(tmp_path / "full", load_genesis(f))  # a full node: no validator key
    code, out = _run("add-validator", str(f), "--home", str(full))
    assert code == 1 and "[no_validator_key]" in out


def test_install_refuses_a_home_that_has_run_a_chain(tmp_path: Path) -> None:
    a = _home(tmp_path / "a")
    g = new_genesis("net-1", [(K1, 10)])
    with pytest.raises(LocalError) as e:
        install_genesis(g, tmp_path / "nothing")
    assert e.value.code == "no_home"
    (a / "data" / "chain.sqlite").write_bytes(b"")
    with pytest.raises(LocalError) as e:
        install_genesis(g, a)
    assert e.value.code == "chain_started"
    assert load_genesis(a / "genesis.json").chain_id == "agora-dev"
