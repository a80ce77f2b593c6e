"""Creating a node's home: its keys, its config and its genesis (`agora init`, `agora devnet`).

The node key is the node's Ed25519 identity on the peer network; a validator
also has a `validator_key` (same format: the hex seed, mode 0600) whose public
key is in the genesis. Without a given genesis, the node gets a new
single-validator dev chain of its own, so it must be that validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agora.blockchain.genesis import Genesis, load_genesis, make_dev_genesis, save_genesis
from agora.config import Config, Home, load_config, parse_addr, save_config
from agora.errors import AgoraError, LocalError
from agora.peer_net.identity import NodeKey

DEFAULT_CHAIN_ID = "agora-dev"


@dataclass
class HomeSpec:
    name: str = "node"
    p2p: str = "127.0.0.1:26656"
    rpc: str = "127.0.0.1:26657"
    bootstrap: list[str] = field(default_factory=list)
    validator: bool = False


@dataclass(frozen=True)
class NewHome:
    home: Home
    node_key: NodeKey
    validator_key: NodeKey | None
    genesis: Genesis


def home_exists(home: Home) -> bool:
    return home.config.exists() or home.node_key.exists()


def init_home(
    root: Path,
    spec: HomeSpec,
    *,
    genesis: Genesis | None = None,
    validator_key: NodeKey | None = None,
    chain_id: str = DEFAULT_CHAIN_ID,
    force: bool = False,
) -> NewHome:
    """Write a new home; LocalError `home_exists` if there is one and not `force`.

    With no `genesis`, a dev genesis is made whose single validator is this node.
    """
    home = Home(root)
    if home_exists(home) and not force:
        raise LocalError(f"{root} already holds a node (use --force)", code="home_exists")
    for addr in (spec.p2p, spec.rpc, *spec.bootstrap):
        parse_addr(addr)
    validator = spec.validator or genesis is None
    if validator and validator_key is None:
        validator_key = NodeKey.generate()
    if genesis is None:
        assert validator_key is not None
        genesis = make_dev_genesis(chain_id, [validator_key.node_id])
    config = Config()
    config.node.name = spec.name
    config.p2p.listen = spec.p2p
    config.p2p.bootstrap = list(spec.bootstrap)
    config.rpc.listen = spec.rpc
    config.consensus.validator = validator
    home.make_dirs()
    node_key = NodeKey.generate()
    node_key.save(home.node_key)
    if validator_key is not None and validator:
        validator_key.save(home.validator_key)
    save_genesis(genesis, home.genesis)
    save_config(config, home.config)
    return NewHome(home, node_key, validator_key if validator else None, genesis)


def read_genesis_file(path: Path) -> Genesis:
    """A genesis given on the command line: a bad one is our user's error, said clearly."""
    try:
        return load_genesis(path)
    except OSError as e:
        raise LocalError(f"cannot read {path}: {e}", code="bad_genesis") from None
    except AgoraError as e:  # bad_genesis / undecodable from the parser
        raise LocalError(f"{path}: {e}", code="bad_genesis") from None


def load_home(root: Path) -> tuple[Home, Config, Genesis, NodeKey]:
    """What `agora node` needs, with a clear error for each missing piece."""
    home = Home(root)
    config = load_config(home.config)
    if not home.node_key.exists():
        raise LocalError(f"no node key in {root}: run `agora init`", code="no_node_key")
    key = NodeKey.load(home.node_key)
    genesis = read_genesis_file(home.genesis)
    home.make_dirs()
    return home, config, genesis, key
