"""`agora bench devnet`: a 4-validator devnet on this machine under load over RPC.

`net` (the devnet's processes), `client` (JSON-RPC batches over HTTP, blocks
over WebSocket), `load` (accounts, signing, sending at a rate), `steps` (what
a step measured) and `run` (the ramp and the result).
"""
