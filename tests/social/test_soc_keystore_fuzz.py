"""Fuzzing the encrypted key file: `load` and `decrypt` answer any file with the key or
with `no_keystore` / `bad_keystore` / `wrong_passphrase`, and never run PBKDF2 for
more than MAX_ITERATIONS (a file must not be able to hang the CLI)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fuzz_values import json_values
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agora.errors import AgoraError, LocalError, RemoteError
from agora.social import keystore

PASS = "correct horse ☃"
KEY = nacl.signing.SigningKey(bytes(range(32)))
DOC = keystore.encrypt(KEY, PASS, iterations=keystore.MIN_ITERATIONS)
CODES = {"bad_keystore", "wrong_passphrase"}


@pytest.fixture(autouse=True)
def pbkdf2_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every PBKDF2 run, by its iteration count: none may be over the bound."""
    runs: list[int] = []
    real = keystore._derive

    def spy(passphrase: str, salt: bytes, iterations: int) -> bytes:
        assert keystore.MIN_ITERATIONS <= iterations <= keystore.MAX_ITERATIONS
        assert iterations == keystore.MIN_ITERATIONS  # only what our test files say
        runs.append(iterations)
        return real(passphrase, salt, iterations)

    monkeypatch.setattr(keystore, "_derive", spy)
    yield runs


def _open(data: bytes, passphrase: str = PASS) -> nacl.signing.SigningKey | None:
    """Load and decrypt a file holding `data`: the key, or None after a documented refusal."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "keystore.json"
        path.write_bytes(data)
        try:
            return keystore.decrypt(keystore.load(path), passphrase)
        except RemoteError as e:
            assert e.code in CODES, e
            return None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    assert _open(data) is None


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    assert _open(json.dumps(value).encode()) is None


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 50_000,  # deeper than the JSON parser's recursion limit
        b'{"version": 1, "pub_key": "' + b"a" * (keystore.MAX_FILE + 10) + b'"}',
        b"\xff\xfe{}",
        b'{"kdf": "\xed\xa0\x80"}',
        b"1" * 5000,  # more digits than int() takes
    ],
)
def test_hostile_files_are_bad_keystores(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(data)
    with pytest.raises(RemoteError) as e:
        keystore.load(path)
    assert e.value.code == "bad_keystore"


def test_no_file_or_a_directory_is_no_keystore(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.json", tmp_path):
        with pytest.raises(LocalError) as e:
            keystore.load(path)
        assert e.value.code == "no_keystore"


@settings(max_examples=20, deadline=None)
@given(st.text(max_size=30))
def test_a_good_file_opens_with_its_passphrase_only(other: str) -> None:
    data = json.dumps(DOC).encode()
    key = _open(data)
    assert key is not None and bytes(key) == bytes(KEY)
    if other != PASS:
        with pytest.raises(RemoteError) as e:
            keystore.decrypt(json.loads(data), other)
        assert e.value.code == "wrong_passphrase"


# -- one field of a good file changed --------------------------------------------------------

FIELDS = sorted(DOC)


def _with(name: str, value: Any) -> Any:
    return {**DOC, name: value}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(FIELDS), json_values | st.integers(-(2**70), 2**70))
def test_one_field_replaced_by_anything(name: str, value: Any) -> None:
    other_count = isinstance(value, int) and value != keystore.MIN_ITERATIONS
    assume(not (name == "iterations" and other_count and 1000 <= value <= 10_000_000))  # slow
    doc = _with(name, value)
    try:
        key = keystore.decrypt(doc, PASS)
    except RemoteError as e:
        assert e.code in CODES
    else:  # only the same value (or its hex in capitals) can still open
        assert bytes(key) == bytes(KEY)
        assert value == DOC[name] or (isinstance(value, str) and value.lower() == DOC[name])


def _bad(doc: Any) -> None:
    with pytest.raises(RemoteError) as e:
        keystore.decrypt(doc, PASS)
    assert e.value.code == "bad_keystore"


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    it=st.integers(max_value=keystore.MIN_ITERATIONS - 1)
    | st.integers(min_value=keystore.MAX_ITERATIONS + 1)
    | st.sampled_from([0, -1, 10**100, 2**63, float(keystore.MIN_ITERATIONS), True])
    | st.text(max_size=8)
    | st.none()
)
def test_iterations_out_of_bounds_are_refused_before_pbkdf2(it: Any, pbkdf2_spy: list[int]) -> None:
    before = len(pbkdf2_spy)
    _bad(_with("iterations", it))
    assert len(pbkdf2_spy) == before


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.tuples(
            st.just("version"),
            st.integers().filter(lambda v: v != 1) | st.sampled_from([True, 1.0, "1", None, [1]]),
        ),
        st.tuples(st.sampled_from(["kdf", "cipher"]), json_values),
        st.tuples(
            st.sampled_from([("salt", 16), ("nonce", 12), ("ciphertext", 48), ("pub_key", 32)]),
            st.integers(0, 60),
        ),
        st.tuples(
            st.sampled_from(["salt", "nonce", "ciphertext", "pub_key"]),
            st.sampled_from([" ", "\n", "zz", "\u0660\u0660", "0x"]),
        ),
    )
)
def test_a_malformed_field_is_bad_keystore(case: tuple[Any, Any]) -> None:
    what, how = case
    if what == "version":
        _bad(_with("version", how))
    elif what in ("kdf", "cipher"):
        if how != DOC[what]:
            _bad(_with(what, how))
    elif isinstance(what, tuple):  # the right hex, at the wrong length
        name, size = what
        if how != size:
            _bad(_with(name, (DOC[name] * 4)[: 2 * how]))
    else:  # the right length, with something that is not plain hex in it
        _bad(_with(what, how + DOC[what][len(how) :]))


def test_a_pub_key_that_is_not_the_keys_is_refused() -> None:
    # authenticated as associated data, but encrypted with the pub_key of another key
    other = bytes(nacl.signing.SigningKey(bytes(32)).verify_key)
    salt, nonce = bytes(16), bytes(12)
    aes = AESGCM(keystore._derive(PASS, salt, keystore.MIN_ITERATIONS))
    ct = aes.encrypt(nonce, bytes(KEY), other)
    doc = {**DOC, "salt": salt.hex(), "nonce": nonce.hex(), "ciphertext": ct.hex()}
    _bad({**doc, "pub_key": other.hex()})
    with pytest.raises(RemoteError) as e:  # the key's own pub_key does not authenticate
        keystore.decrypt(doc, PASS)
    assert e.value.code == "wrong_passphrase"


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 47), st.integers(1, 255))
def test_a_flipped_ciphertext_byte_is_wrong_passphrase(i: int, x: int) -> None:
    ct = bytearray(bytes.fromhex(DOC["ciphertext"]))
    ct[i] ^= x
    with pytest.raises(RemoteError) as e:
        keystore.decrypt(_with("ciphertext", ct.hex()), PASS)
    assert e.value.code == "wrong_passphrase"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=5), st.sampled_from(["\udc80", "\ud800", "\udfff"]))
def test_a_passphrase_that_is_not_unicode_is_a_clear_error(text: str, lone: str) -> None:
    with pytest.raises(AgoraError) as e:
        keystore.decrypt(DOC, text + lone)
    assert isinstance(e.value, LocalError) and e.value.code == "bad_passphrase"
