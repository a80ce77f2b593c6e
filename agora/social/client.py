"""A JSON-RPC client for the CLI, and building, signing and submitting social txs.

Plain HTTP POST with urllib: the CLI makes one call at a time and needs nothing more.
`tx_submit` takes `{"tx": <hex of the encoded tx>}` and answers the tx hash.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import nacl.signing

from agora.blockchain.kinds import tx_size
from agora.blockchain.tx import Tx, encode_tx, make_tx, tx_hash
from agora.codec import encode
from agora.errors import LocalError, RemoteError

DEFAULT_RPC = "http://127.0.0.1:26657"


def default_rpc(cwd: Path | None = None) -> str:
    """$AGORA_RPC, else node0 of ./devnet/nodes.json, else the default local port."""
    env = os.environ.get("AGORA_RPC")
    if env:
        return env
    manifest = (cwd or Path.cwd()) / "devnet" / "nodes.json"
    try:
        nodes = json.loads(manifest.read_text())
        rpc = nodes[0]["rpc"]
        if isinstance(rpc, str) and rpc:
            return rpc if rpc.startswith("http") else f"http://{rpc}"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        pass
    return DEFAULT_RPC


class RpcFailure(RemoteError):
    """The node answered with a JSON-RPC error: `number` is its domain, `code` the reason."""

    def __init__(self, number: int, message: str, code: str) -> None:
        super().__init__(message, code=code)
        self.number = number


class RpcClient:
    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, params: Any = None) -> Any:
        doc: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            doc["params"] = params
        req = urllib.request.Request(
            self.url, msgspec.json.encode(doc), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            raise LocalError(f"{self.url}: HTTP {e.code}", code="rpc_http") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise LocalError(f"cannot reach {self.url}: {reason}", code="rpc_unreachable") from None
        try:
            out = msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise LocalError(f"{self.url}: not a JSON-RPC answer", code="rpc_bad_answer") from None
        err = out.get("error") if isinstance(out, dict) else None
        if err is not None:
            data = err.get("data") or {}
            raise RpcFailure(err.get("code", 0), err.get("message", ""), data.get("code", "error"))
        return out.get("result") if isinstance(out, dict) else None


class Actor:
    """Signs and submits txs for one key; waits for them to be committed."""

    def __init__(self, client: RpcClient, key: nacl.signing.SigningKey) -> None:
        self.client = client
        self.key = key
        self.pub = bytes(key.verify_key)
        self._info: dict[str, Any] | None = None

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = self.client.call("social_getInfo")
        return self._info

    def build(self, kind: str, body: msgspec.Struct, *, extra_fee: int = 0) -> Tx:
        acct = self.client.call("social_getAccount", {"account": self.pub.hex()})
        raw, info = encode(body), self.info
        per_byte, base = info["fee_per_byte"], info["min_fee"] + extra_fee
        tx = make_tx(self.key, info["chain_id"], acct["nonce"] + 1, kind, raw, fee=base)
        if per_byte:  # the fee is part of the size it pays for: settle on a fixed point
            for _ in range(3):
                fee = base + per_byte * tx_size(encode(tx.envelope), tx)
                if fee == tx.envelope.fee:
                    break
                tx = make_tx(self.key, info["chain_id"], tx.envelope.nonce, kind, raw, fee=fee)
        return tx

    def submit(self, tx: Tx, *, wait: float = 20.0) -> dict[str, Any]:
        """Send it; unless `wait` is 0, poll until it is in a block; its result."""
        self.client.call("tx_submit", {"tx": encode_tx(tx).hex()})
        h = tx_hash(tx).hex()
        if not wait:
            return {"hash": h, "code": "pending"}
        deadline = time.monotonic() + wait
        while True:
            try:
                res: dict[str, Any] = self.client.call("social_getTxResult", {"hash": h})
                return res
            except RpcFailure as e:
                if e.code != "not_found" or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def send(
        self, kind: str, body: msgspec.Struct, *, extra_fee: int = 0, wait: float = 20.0
    ) -> dict[str, Any]:
        return self.submit(self.build(kind, body, extra_fee=extra_fee), wait=wait)
