"""The table from tx kind to module, and the checks a tx passes without any state.

These stateless checks (chain id, kind, body, size, minimum fee) are the same
in the mempool, in block validation and in execution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agora.blockchain.account import min_fee
from agora.blockchain.genesis import Genesis
from agora.blockchain.module import KindSpec, Module
from agora.blockchain.tx import Tx, TxError, bin_size
from agora.codec import Codec, sha256
from agora.errors import LocalError, RemoteError


@dataclass(frozen=True)
class Registered:
    kind: str
    module: Module
    spec: KindSpec
    codec: Codec[Any]


def tx_size(env_bytes: bytes, tx: Tx) -> int:
    """len(encode(tx)) without encoding it again: array header, envelope, signature, body."""
    return 1 + len(env_bytes) + 66 + (1 if tx.body is None else bin_size(len(tx.body)))


class Registry:
    def __init__(self, genesis: Genesis, modules: Sequence[Module]) -> None:
        self.chain_id = genesis.chain_id
        self.params = genesis.params
        self.modules = list(modules)
        self.kinds: dict[str, Registered] = {}
        names = [m.name for m in self.modules]
        if len(set(names)) != len(names):
            raise LocalError(f"duplicate module names in {names}", code="bad_module")
        for m in self.modules:
            for kind, spec in m.kinds.items():
                if kind in self.kinds:
                    raise LocalError(f"tx kind {kind!r} registered twice", code="bad_module")
                codec: Codec[Any] = Codec(spec.body_type, spec.max_body_bytes, f"{kind} body")
                self.kinds[kind] = Registered(kind, m, spec, codec)
        self.erasable = sorted(k for k, r in self.kinds.items() if r.spec.erasable)

    def check(
        self, tx: Tx, env_bytes: bytes, *, allow_erased: bool = False
    ) -> tuple[Registered, Any]:
        """Raise TxError unless `tx` is well formed; return its kind and decoded body
        (None for an erased body, which only a committed block may carry)."""
        env = tx.envelope
        if env.chain_id != self.chain_id:
            raise TxError("wrong_chain", f"tx for chain {env.chain_id!r}, not {self.chain_id!r}")
        reg = self.kinds.get(env.kind)
        if reg is None:
            raise TxError("unknown_kind", f"no module handles kind {env.kind!r}")
        size = tx_size(env_bytes, tx)
        if size > self.params.max_tx_bytes:
            raise TxError("tx_too_large", f"{size} bytes > {self.params.max_tx_bytes}")
        body = tx.body
        if body is None:
            if allow_erased and reg.spec.erasable:
                return reg, None
            raise TxError("missing_body", f"a {env.kind} tx needs its body")
        if len(body) > reg.spec.max_body_bytes:
            raise TxError(
                "tx_too_large", f"{env.kind} body {len(body)} bytes > {reg.spec.max_body_bytes}"
            )
        if sha256(body) != env.body_hash:
            raise TxError("body_hash_mismatch", "the body does not match the signed body_hash")
        need = min_fee(self.params, size)
        if env.fee < need:
            raise TxError("fee_too_low", f"fee {env.fee} < {need} for {size} bytes")
        try:
            value = reg.codec.decode(body)
        except RemoteError as e:
            raise TxError("bad_body", e.message) from None
        return reg, value
