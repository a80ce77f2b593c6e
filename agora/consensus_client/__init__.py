"""Consensus: a sans-IO Tendermint core, its write-ahead log and a simulator.

See docs/consensus.md. The node's consensus actor drives `Core` with events
and carries out the `Action`s it returns.
"""

from agora.consensus_client.actions import (
    Action,
    Broadcast,
    BuildBlock,
    CatchUp,
    CheckBlock,
    CommitBlock,
    EvidenceFound,
    Misbehaviour,
    PersistSigned,
    ScheduleTimeout,
)
from agora.consensus_client.core import Core
from agora.consensus_client.timeouts import ConsensusParams
from agora.consensus_client.types import (
    ConsensusMsg,
    Decided,
    EvidenceMsg,
    Proposal,
    Step,
    Timeout,
    VoteMsg,
    msg_codec,
    sign_proposal,
)
from agora.consensus_client.wal import FileWal, MemoryWal, Wal
from agora.consensus_client.wal_entry import WalEntry, WalState

__all__ = [
    "Action",
    "Broadcast",
    "BuildBlock",
    "CatchUp",
    "CheckBlock",
    "CommitBlock",
    "ConsensusMsg",
    "ConsensusParams",
    "Core",
    "Decided",
    "EvidenceFound",
    "EvidenceMsg",
    "FileWal",
    "MemoryWal",
    "Misbehaviour",
    "PersistSigned",
    "Proposal",
    "ScheduleTimeout",
    "Step",
    "Timeout",
    "VoteMsg",
    "Wal",
    "WalEntry",
    "WalState",
    "msg_codec",
    "sign_proposal",
]
