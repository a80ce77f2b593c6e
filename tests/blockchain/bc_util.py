"""Shared helpers of the blockchain tests (a module of its own: `conftest` is a name
every test directory has, and which one `import conftest` finds depends on the order
pytest collected them in)."""

import nacl.signing

from agora.blockchain.core_module import Transfer
from agora.blockchain.genesis import Params
from agora.blockchain.tx import Tx, make_tx
from agora.codec import encode

CHAIN = "agora-test"
PARAMS = Params(min_fee=1, fee_per_byte=0, quota_base=5, quota_balance_step=100_000, quota_max=20)


def transfer(
    key: nacl.signing.SigningKey, nonce: int, to: bytes, amount: int = 1, fee: int = 1, **kw: int
) -> Tx:
    return make_tx(key, CHAIN, nonce, "transfer", encode(Transfer(to, amount)), fee=fee, **kw)
