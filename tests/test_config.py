from pathlib import Path

import pytest

from agora.config import Config, load_config, parse_addr, save_config, write_atomic
from agora.errors import LocalError


def test_roundtrip(tmp_path: Path) -> None:
    c = Config()
    c.p2p.bootstrap = ["127.0.0.1:1234"]
    c.consensus.validator = True
    save_config(c, tmp_path / "config.toml")
    assert load_config(tmp_path / "config.toml") == c


@pytest.mark.parametrize(
    "text,code",
    [
        ("[p2p\n", "bad_config"),
        ("[p2p]\nmax_inbound = 'many'\n", "bad_config"),
        ("[p2p]\nunknown = 1\n", "bad_config"),
        ("[p2p]\nlisten = 'nohost'\n", "bad_address"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, code: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(text)
    with pytest.raises(LocalError) as e:
        load_config(p)
    assert e.value.code == code


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(LocalError) as e:
        load_config(tmp_path / "nope.toml")
    assert e.value.code == "no_config"


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:80") == ("127.0.0.1", 80)
    assert parse_addr("[::1]:9") == ("::1", 9)
    for bad in ("x", ":1", "h:", "h:99999", "h:-1"):
        with pytest.raises(LocalError):
            parse_addr(bad)


def test_write_atomic_replaces(tmp_path: Path) -> None:
    p = tmp_path / "f"
    write_atomic(p, b"one")
    write_atomic(p, b"two")
    assert p.read_bytes() == b"two"
    assert not (tmp_path / "f.tmp").exists()
