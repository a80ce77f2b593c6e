"""The replicated state machine: transactions, blocks, state, storage, mempool."""
