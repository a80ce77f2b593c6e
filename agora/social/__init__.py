"""The social application: tx kinds on the chain, the SQLite index, queries, RPC and CLI."""
