"""The Noise Protocol Framework's XX pattern, sans-IO (noiseprotocol.org, revision 34).

Fixed to X25519 and ChaChaPoly; the hash is a parameter (SHA256, SHA512,
BLAKE2s, BLAKE2b) so that every cacophony vector can be checked. Agora uses
`Noise_XX_25519_ChaChaPoly_SHA256`. No PSK, no rekey, no fallback.

    XX:  -> e
         <- e, ee, s, es
         -> s, se

Bad input from the peer raises RemoteError (`handshake_failed`,
`handshake_message_too_long`); using the API out of order raises LocalError.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agora.errors import LocalError
from agora.peer_net.violations import violation

DHLEN = 32
TAGLEN = 16
MAX_MESSAGE = 65535
MAX_NONCE = 2**64 - 1  # reserved by the spec: never used to encrypt
DEFAULT_PROTOCOL = "Noise_XX_25519_ChaChaPoly_SHA256"

HASHES: dict[str, Callable[..., Any]] = {
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
    "BLAKE2s": hashlib.blake2s,
    "BLAKE2b": hashlib.blake2b,
}

# Message patterns of XX; the initiator writes the even-numbered ones.
XX_PATTERN: tuple[tuple[str, ...], ...] = (("e",), ("e", "ee", "s", "es"), ("s", "se"))

_NONCE = struct.Struct("<4xQ")  # ChaChaPoly: 32 zero bits, then the counter little-endian


def aead_nonce(n: int) -> bytes:
    return _NONCE.pack(n)


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _private(key: X25519PrivateKey | bytes) -> X25519PrivateKey:
    if isinstance(key, X25519PrivateKey):
        return key
    if len(key) != DHLEN:
        raise LocalError(f"an X25519 private key is {DHLEN} bytes", code="bad_key")
    return X25519PrivateKey.from_private_bytes(key)


def _dh(private: X25519PrivateKey, public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError as e:  # a low-order point gives an all-zero secret
        raise violation("handshake_failed", f"X25519 failed: {e}") from None


class CipherState:
    """A key and a nonce counter (Noise section 5.1)."""

    __slots__ = ("_aead", "n")

    def __init__(self, key: bytes | None = None) -> None:
        self._aead = ChaCha20Poly1305(key) if key is not None else None
        self.n = 0

    def has_key(self) -> bool:
        return self._aead is not None

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._aead is None:
            return plaintext
        if self.n >= MAX_NONCE:
            raise LocalError("Noise nonce exhausted", code="rekey_required")
        out = self._aead.encrypt(_NONCE.pack(self.n), plaintext, ad)
        self.n += 1
        return out

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        if self._aead is None:
            return ciphertext
        if self.n >= MAX_NONCE:
            raise violation("rekey_required", "Noise nonce exhausted")
        try:
            out = self._aead.decrypt(_NONCE.pack(self.n), ciphertext, ad)
        except InvalidTag:
            raise violation("handshake_failed", "Noise message failed to decrypt") from None
        self.n += 1
        return out


class SymmetricState:
    """The chaining key, the handshake hash and the current cipher (section 5.2)."""

    __slots__ = ("_hash", "cipher", "ck", "h", "hashlen")

    def __init__(self, protocol_name: str) -> None:
        parts = protocol_name.split("_")
        if len(parts) != 5 or parts[:4] != ["Noise", "XX", "25519", "ChaChaPoly"]:
            raise LocalError(f"unsupported Noise protocol {protocol_name!r}", code="bad_protocol")
        if parts[4] not in HASHES:
            raise LocalError(f"unsupported Noise hash {parts[4]!r}", code="bad_protocol")
        self._hash = HASHES[parts[4]]
        self.hashlen: int = self._hash().digest_size
        name = protocol_name.encode()
        if len(name) <= self.hashlen:
            self.h = name.ljust(self.hashlen, b"\x00")
        else:
            self.h = self._hash(name).digest()
        self.ck = self.h
        self.cipher = CipherState()

    def _hmac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, self._hash).digest()

    def hkdf(self, ikm: bytes, outputs: int) -> list[bytes]:
        temp = self._hmac(self.ck, ikm)
        out: list[bytes] = []
        prev = b""
        for i in range(1, outputs + 1):
            prev = self._hmac(temp, prev + bytes([i]))
            out.append(prev)
        return out

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = self.hkdf(ikm, 2)
        self.cipher = CipherState(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        self.h = self._hash(self.h + data).digest()

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[bytes, bytes]:
        """The two transport keys: initiator→responder, responder→initiator."""
        k1, k2 = self.hkdf(b"", 2)
        return k1[:32], k2[:32]


class HandshakeState:
    """One side of an XX handshake (section 5.3).

    `ephemeral` is injectable for test vectors only; by default a fresh key
    is generated when the `e` token is written.
    """

    def __init__(
        self,
        *,
        initiator: bool,
        static: X25519PrivateKey | bytes,
        prologue: bytes = b"",
        ephemeral: X25519PrivateKey | bytes | None = None,
        protocol_name: str = DEFAULT_PROTOCOL,
    ) -> None:
        self.initiator = initiator
        self.symmetric = SymmetricState(protocol_name)
        self.symmetric.mix_hash(prologue)
        self.s = _private(static)
        self.s_pub = public_bytes(self.s)
        self.e: X25519PrivateKey | None = _private(ephemeral) if ephemeral is not None else None
        self.re: bytes | None = None
        self.rs: bytes | None = None
        self.step = 0

    @property
    def complete(self) -> bool:
        return self.step >= len(XX_PATTERN)

    @property
    def handshake_hash(self) -> bytes:
        return self.symmetric.h

    @property
    def my_turn(self) -> bool:
        return not self.complete and (self.step % 2 == 0) == self.initiator

    def _dh_for(self, token: str) -> bytes:
        # ee, es, se name (initiator key, responder key); each side uses its own half.
        e, s, re, rs = self.e, self.s, self.re, self.rs
        assert e is not None and re is not None
        if token == "ee":
            return _dh(e, re)
        if token == "es":
            if self.initiator:
                assert rs is not None
                return _dh(e, rs)
            return _dh(s, re)
        # "se"
        if self.initiator:
            return _dh(s, re)
        assert rs is not None
        return _dh(e, rs)

    def write_message(self, payload: bytes) -> bytes:
        if not self.my_turn:
            raise LocalError("not our turn to write a handshake message", code="bad_transition")
        sym = self.symmetric
        out: list[bytes] = []
        for token in XX_PATTERN[self.step]:
            if token == "e":
                if self.e is None:
                    self.e = X25519PrivateKey.generate()
                e_pub = public_bytes(self.e)
                out.append(e_pub)
                sym.mix_hash(e_pub)
            elif token == "s":
                out.append(sym.encrypt_and_hash(self.s_pub))
            else:
                sym.mix_key(self._dh_for(token))
        out.append(sym.encrypt_and_hash(payload))
        message = b"".join(out)
        if len(message) > MAX_MESSAGE:
            raise LocalError("Noise message over 65535 bytes", code="handshake_message_too_long")
        self.step += 1
        return message

    def read_message(self, message: bytes) -> bytes:
        if self.complete or self.my_turn:
            raise LocalError("not our turn to read a handshake message", code="bad_transition")
        if len(message) > MAX_MESSAGE:
            raise violation("handshake_message_too_long", "Noise message over 65535 bytes")
        sym = self.symmetric
        pos = 0
        for token in XX_PATTERN[self.step]:
            if token == "e":
                if len(message) - pos < DHLEN:
                    raise violation("handshake_failed", "Noise message too short for a key")
                self.re = message[pos : pos + DHLEN]
                pos += DHLEN
                sym.mix_hash(self.re)
            elif token == "s":
                size = DHLEN + (TAGLEN if sym.cipher.has_key() else 0)
                if len(message) - pos < size:
                    raise violation("handshake_failed", "Noise message too short for a key")
                self.rs = sym.decrypt_and_hash(message[pos : pos + size])
                pos += size
            else:
                sym.mix_key(self._dh_for(token))
        rest = message[pos:]
        if sym.cipher.has_key() and len(rest) < TAGLEN:
            raise violation("handshake_failed", "Noise payload too short for its tag")
        payload = sym.decrypt_and_hash(rest)
        self.step += 1
        return payload

    def split(self) -> tuple[CipherState, CipherState]:
        """(initiator→responder, responder→initiator) transport ciphers."""
        if not self.complete:
            raise LocalError("split before the handshake completed", code="bad_transition")
        k1, k2 = self.symmetric.split()
        return CipherState(k1), CipherState(k2)

    def split_keys(self) -> tuple[bytes, bytes]:
        if not self.complete:
            raise LocalError("split before the handshake completed", code="bad_transition")
        return self.symmetric.split()
