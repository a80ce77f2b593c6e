"""`SocialReader`: every social query, plus the few chain facts a client needs to act
(its account's nonce and quota, a tx's result, the chain parameters)."""

from __future__ import annotations

from pathlib import Path

from agora.blockchain.account import MILLI, quota_now
from agora.blockchain.genesis import Genesis
from agora.blockchain.reader import Reader
from agora.errors import RemoteError
from agora.social.bodies import KINDS
from agora.social.cursor import seq_cursor
from agora.social.module import params_of
from agora.social.reader import HEX_KEY, not_found
from agora.social.search import Search
from agora.social.state import seq_of
from agora.social.views import AccountState, SocialInfo, TxResult


class SocialReader(Search):
    def __init__(self, path: Path | str, genesis: Genesis) -> None:
        super().__init__(path)
        self.genesis = genesis
        self.params = params_of(genesis)
        self.chain = Reader(path)

    @classmethod
    def open(cls, path: Path | str, genesis: Genesis) -> SocialReader:
        r = cls(path, genesis)
        with r.snapshot() as c:
            c.execute("SELECT 1 FROM social_fts_shards LIMIT 1")  # fail now if not a social store
        return r

    def close(self, timeout: float = 10.0) -> None:
        super().close(timeout)
        self.chain.close(timeout)

    def info(self) -> SocialInfo:
        s = self.chain.status()
        g = self.genesis
        return SocialInfo(
            g.chain_id,
            s.height,
            s.time_ms,
            self.params.max_post_chars,
            self.params.handle_fee,
            g.params.min_fee,
            g.params.fee_per_byte,
            {k: spec.quota_cost for k, spec in KINDS.items()},
        )

    def account_state(self, account: str) -> AccountState:
        """Balance, nonce and quota of a key (or a handle's owner); an unknown key is a
        new account (nonce 0, full quota)."""
        if HEX_KEY.fullmatch(account):
            key = bytes.fromhex(account)
        else:
            with self.snapshot() as c:
                _, key = self.account_id(c, account)
        with self.snapshot() as c:
            row = c.execute(
                "SELECT value FROM state_now WHERE key = ?", (b"social/n/" + key,)
            ).fetchone()
        acct = self.chain.account(key)
        t = self.chain.status().time_ms
        quota = quota_now(self.genesis.params, acct, t) / MILLI
        handle = None if row is None else bytes(row[0]).decode()
        return AccountState(key.hex(), handle, acct.balance, acct.nonce, quota)

    def tx_result(self, tx_hash: str) -> TxResult:
        """Where a committed tx is and whether its module accepted it."""
        if not HEX_KEY.fullmatch(tx_hash):
            raise RemoteError("a tx hash is 64 hex digits", code="bad_tx_hash")
        info = self.chain.get_tx(bytes.fromhex(tx_hash))
        if info is None:
            raise not_found("tx (not committed, or unknown)")
        return TxResult(
            tx_hash.lower(),
            info.height,
            info.index,
            info.tx.envelope.kind,
            info.code,
            info.message,
            seq_cursor(seq_of(info.height, info.index)),
        )
