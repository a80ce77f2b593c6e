"""A node's home directory and its TOML configuration.

Layout of a home:
    config.toml         this file's settings
    node_key            the node's Ed25519 identity (hex seed, mode 0600)
    validator_key       present on validators only
    genesis.json        the chain's genesis
    data/               chain.sqlite, consensus.wal
    p2p/                address book and bans
    status.json         what the running node reports about itself
    node.lock           held (flock) by the node running in this home
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
import tomli_w

from agora.errors import LocalError

# Bounds a file must keep to: past them a node would fail later, far from the cause.
Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
PerIP = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
Budget = Annotated[int, msgspec.Meta(ge=0, le=2**40)]
Frame = Annotated[int, msgspec.Meta(ge=1024, le=2**31)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=1e7)]  # NaN and infinity fail too
Rate = Annotated[float, msgspec.Meta(ge=0, le=1e9)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=3_600_000)]
LogLevel = Annotated[
    str, msgspec.Meta(pattern=r"^(?i:debug|info|warn|warning|error|critical|fatal|notset)\Z")
]


class NodeSection(msgspec.Struct, forbid_unknown_fields=True):
    name: str = "node"
    log_level: LogLevel = "info"


class P2PSection(msgspec.Struct, forbid_unknown_fields=True):
    listen: str = "127.0.0.1:26656"
    external: str = ""  # advertised address; defaults to `listen`
    bootstrap: list[str] = msgspec.field(default_factory=list)
    max_inbound: Count = 40
    max_outbound: Count = 10
    max_frame: Frame = 4 * 1024 * 1024
    handshake_timeout_s: Seconds = 5.0
    request_timeout_s: Seconds = 10.0
    in_budget: Budget = 8 * 1024 * 1024
    out_budget: Budget = 16 * 1024 * 1024
    pex_interval_s: Seconds = 5.0
    ban_seconds: Seconds = 600.0


class RPCSection(msgspec.Struct, forbid_unknown_fields=True):
    listen: str = "127.0.0.1:26657"
    enabled: bool = True
    # Per client IP address; loopback clients are exempt unless limit_loopback.
    max_connections_per_ip: PerIP = 64
    calls_per_s_per_ip: Rate = 100.0  # JSON-RPC calls (each of a batch) and GETs; 0: off
    call_burst_per_ip: PerIP = 300
    limit_loopback: bool = False


class ConsensusSection(msgspec.Struct, forbid_unknown_fields=True):
    validator: bool = False
    block_interval_ms: Millis = 1000


class Config(msgspec.Struct, forbid_unknown_fields=True):
    node: NodeSection = msgspec.field(default_factory=NodeSection)
    p2p: P2PSection = msgspec.field(default_factory=P2PSection)
    rpc: RPCSection = msgspec.field(default_factory=RPCSection)
    consensus: ConsensusSection = msgspec.field(default_factory=ConsensusSection)


def parse_addr(text: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` to a tuple; LocalError `bad_address` otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    # isdigit() alone takes superscripts and other scripts' digits, which int() refuses or reads
    digits = port.isascii() and port.isdigit() and len(port) <= 5
    if not sep or not host or not digits or not 0 <= int(port) <= 65535:
        raise LocalError(f"not a host:port address: {text!r}", code="bad_address")
    return host, int(port)


def format_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Home:
    """Paths inside a node's home directory."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def node_key(self) -> Path:
        return self.root / "node_key"

    @property
    def validator_key(self) -> Path:
        return self.root / "validator_key"

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def chain_db(self) -> Path:
        return self.data / "chain.sqlite"

    @property
    def consensus_wal(self) -> Path:
        return self.data / "consensus.wal"

    def chain_started(self) -> Path | None:
        """The first file of a chain this home has run (its store or its WAL), if any."""
        return next((p for p in (self.chain_db, self.consensus_wal) if p.exists()), None)

    @property
    def p2p(self) -> Path:
        return self.root / "p2p"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    def require(self) -> Home:
        """This home, or LocalError `no_home` if `agora init` never made it."""
        if not self.config.exists():
            raise LocalError(f"{self.root} is not a node home: run `agora init`", code="no_home")
        return self

    def make_dirs(self) -> None:
        for d in (self.root, self.data, self.p2p):
            d.mkdir(parents=True, exist_ok=True)


def load_config(path: Path) -> Config:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LocalError(f"no config at {path}: run `agora init`", code="no_config") from None
    except OSError as e:
        raise LocalError(f"cannot read {path}: {e}", code="bad_config") from None
    try:
        # TOML is UTF-8 whatever the locale; tomllib recurses into nested arrays
        raw: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise LocalError(f"{path}: not valid TOML: {e}", code="bad_config") from None
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as e:
        raise LocalError(f"{path}: {e}", code="bad_config") from None
    for addr in [config.p2p.listen, config.rpc.listen, *config.p2p.bootstrap]:
        parse_addr(addr)
    return config


def save_config(config: Config, path: Path) -> None:
    write_atomic(path, tomli_w.dumps(msgspec.to_builtins(config)).encode())


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file so that a crash leaves either the old or the new content.

    The data goes to a temporary file that is fsynced and renamed over `path`;
    then the directory is fsynced so the rename itself is durable.
    """
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with memoryview(data) as view:
            while view:
                view = view[os.write(fd, view) :]  # a write may be short
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    replace_durably(tmp, path)


def replace_durably(tmp: Path, path: Path, *, sync_tmp: bool = False) -> None:
    """Rename `tmp` (fsynced first if `sync_tmp`) over `path`, then fsync the directory
    so the rename itself survives a crash."""
    if sync_tmp:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
