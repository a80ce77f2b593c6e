import json
from pathlib import Path

import msgspec
import pytest

from agora.blockchain.devchain import dev_keys
from agora.blockchain.genesis import (
    FAUCET_LABEL,
    Genesis,
    Params,
    dev_signing_key,
    genesis_from_json,
    load_genesis,
    make_dev_genesis,
    save_genesis,
)
from agora.errors import RemoteError


def _dev() -> Genesis:
    vals = [bytes(k.verify_key) for k in dev_keys("v", 3)]
    funded = [bytes(k.verify_key) for k in dev_keys("u", 2)]
    return make_dev_genesis("agora-dev", vals, funded, genesis_time=1_700_000_000_000)


def test_roundtrip_through_a_readable_file(tmp_path: Path) -> None:
    g = _dev()
    save_genesis(g, tmp_path / "genesis.json")
    doc = json.loads((tmp_path / "genesis.json").read_text())
    assert doc["chain_id"] == "agora-dev"
    assert doc["validators"][0]["pub_key"] == g.validators[0].pub_key.hex()
    assert doc["params"]["quota_base"] == 50
    assert doc["modules"] == {"social": {"max_post_chars": 1000}}
    back = load_genesis(tmp_path / "genesis.json")
    assert back == g and back.hash() == g.hash()
    faucet = bytes(dev_signing_key(FAUCET_LABEL).verify_key)
    assert any(b.address == faucet and b.amount > 0 for b in g.balances)


def test_hash_is_independent_of_module_key_order() -> None:
    g = _dev()
    a = msgspec.structs.replace(g, modules={"x": {"a": 1, "b": 2}, "social": {}})
    b = msgspec.structs.replace(g, modules={"social": {}, "x": {"b": 2, "a": 1}})
    assert a.hash() == b.hash() != g.hash()


def test_module_params() -> None:
    class Social(msgspec.Struct):
        max_post_chars: int = 500
        other: int = 7

    g = _dev()
    assert g.module_params("social", Social) == Social(1000, 7)
    assert g.module_params("none", Social) == Social(500, 7)
    bad = msgspec.structs.replace(g, modules={"social": {"max_post_chars": "many"}})
    with pytest.raises(RemoteError) as e:
        bad.module_params("social", Social)
    assert e.value.code == "bad_genesis"


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda d: d.update(chain_id="Bad Id"), "bad_genesis"),
        (lambda d: d.update(validators=[]), "bad_genesis"),
        (lambda d: d["validators"][0].update(pub_key="zz"), "bad_genesis"),
        (lambda d: d["validators"][0].update(pub_key="ab" * 31), "bad_genesis"),
        (lambda d: d["validators"][0].update(power=0), "bad_genesis"),
        (lambda d: d["balances"].append(dict(d["balances"][0])), "bad_genesis"),
        (lambda d: d["balances"][0].update(amount=-1), "bad_genesis"),
        (lambda d: d["params"].update(max_block_txs=0), "bad_genesis"),
        (lambda d: d["params"].update(max_block_txs=2**20 + 1), "bad_genesis"),
        (lambda d: d["params"].update(unknown=1), "bad_genesis"),
        (lambda d: d.update(extra=1), "bad_genesis"),
        (lambda d: d.update(genesis_time="now"), "bad_genesis"),
    ],
)
def test_bad_files_are_refused_with_a_code(tmp_path: Path, edit, code) -> None:  # type: ignore[no-untyped-def]
    save_genesis(_dev(), tmp_path / "g.json")
    doc = json.loads((tmp_path / "g.json").read_text())
    edit(doc)
    with pytest.raises(RemoteError) as e:
        genesis_from_json(json.dumps(doc).encode())
    assert e.value.code == code


def test_undecodable_file() -> None:
    with pytest.raises(RemoteError) as e:
        genesis_from_json(b"{not json")
    assert e.value.code == "undecodable"


def test_params_defaults() -> None:
    p = Params()
    assert (p.min_fee, p.quota_base, p.quota_window_ms) == (0, 50, 3_600_000)
