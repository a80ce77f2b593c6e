"""A key file encrypted with a passphrase, in a format a browser can read with WebCrypto.

    {"version": 1, "kdf": "pbkdf2-sha256", "salt": <hex 16>, "iterations": 600000,
     "cipher": "aes-256-gcm", "nonce": <hex 12>, "ciphertext": <hex 48>, "pub_key": <hex 32>}

key = PBKDF2-HMAC-SHA256(UTF-8 passphrase, salt, iterations, 32 bytes);
ciphertext = AES-256-GCM(key, nonce, plaintext = the 32-byte Ed25519 seed,
additional data = the 32 raw bytes of pub_key), i.e. 32 bytes and the 16-byte tag.
docs/social.md has the byte-for-byte description.

Reading a file: `load` raises LocalError `no_keystore` when it cannot be read
and RemoteError `bad_keystore` when it is not a JSON object of at most
`MAX_FILE` bytes; `decrypt` raises RemoteError `bad_keystore` for any field
that is not exactly as above (version and iterations are JSON integers, hex
has no spaces) before running PBKDF2, so a file cannot make it run more than
`MAX_ITERATIONS`, and `wrong_passphrase` when the AEAD tag does not verify.
A passphrase that is not valid Unicode (lone surrogates, as from an
environment variable that is not UTF-8) is LocalError `bad_passphrase`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, TypeGuard

import nacl.signing
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from agora.errors import LocalError, RemoteError

VERSION = 1
ITERATIONS = 600_000
MIN_ITERATIONS = 1_000  # what a file may say (tests use few); new files get ITERATIONS
MAX_ITERATIONS = 10_000_000
MAX_FILE = 64 * 1024  # a keystore is about 400 bytes
_HEX = re.compile(r"[0-9a-fA-F]*")


def _bad(msg: str) -> RemoteError:
    return RemoteError(f"keystore: {msg}", code="bad_keystore")


def _derive(passphrase: str, salt: bytes, iterations: int) -> bytes:
    try:
        secret = passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise LocalError("the passphrase is not valid Unicode", code="bad_passphrase") from None
    return hashlib.pbkdf2_hmac("sha256", secret, salt, iterations, 32)


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def encrypt(
    key: nacl.signing.SigningKey, passphrase: str, iterations: int = ITERATIONS
) -> dict[str, Any]:
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise LocalError(
            f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}", code="bad_config"
        )
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    pub = bytes(key.verify_key)
    ct = AESGCM(_derive(passphrase, salt, iterations)).encrypt(nonce, bytes(key), pub)
    return {
        "version": VERSION,
        "kdf": "pbkdf2-sha256",
        "salt": salt.hex(),
        "iterations": iterations,
        "cipher": "aes-256-gcm",
        "nonce": nonce.hex(),
        "ciphertext": ct.hex(),
        "pub_key": pub.hex(),
    }


def _hex(doc: dict[str, Any], name: str, size: int) -> bytes:
    v = doc.get(name)
    # fromhex alone would also take spaces and non-ASCII digits
    if not isinstance(v, str) or len(v) != 2 * size or not _HEX.fullmatch(v):
        raise _bad(f"{name} must be {size} bytes of hex")
    return bytes.fromhex(v)


def decrypt(doc: Any, passphrase: str) -> nacl.signing.SigningKey:
    """The signing key; RemoteError `wrong_passphrase` or `bad_keystore`."""
    if not isinstance(doc, dict) or not _is_int(v := doc.get("version")) or v != VERSION:
        raise _bad(f"not a version {VERSION} keystore")
    if doc.get("kdf") != "pbkdf2-sha256" or doc.get("cipher") != "aes-256-gcm":
        raise _bad("unknown kdf or cipher")
    it = doc.get("iterations")
    if not _is_int(it) or not MIN_ITERATIONS <= it <= MAX_ITERATIONS:
        raise _bad(f"iterations must be an integer {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    salt, nonce = _hex(doc, "salt", 16), _hex(doc, "nonce", 12)
    ct, pub = _hex(doc, "ciphertext", 48), _hex(doc, "pub_key", 32)
    try:
        seed = AESGCM(_derive(passphrase, salt, it)).decrypt(nonce, ct, pub)
    except InvalidTag:
        raise RemoteError(
            "wrong passphrase (or a damaged keystore)", code="wrong_passphrase"
        ) from None
    key = nacl.signing.SigningKey(seed)
    if bytes(key.verify_key) != pub:
        raise _bad("the key does not match pub_key")
    return key


def save(path: Path | str, doc: dict[str, Any]) -> None:
    """Write atomically, readable by the owner only."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    tmp.replace(p)


def load(path: Path | str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise LocalError(
            f"cannot read the keystore {path}: {e.strerror}", code="no_keystore"
        ) from None
    if len(data) > MAX_FILE:
        raise _bad(f"over {MAX_FILE} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise _bad("not JSON") from None
    if not isinstance(doc, dict):
        raise _bad("not a JSON object")
    return doc
