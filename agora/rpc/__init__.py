"""The RPC server: JSON-RPC 2.0 over HTTP and WebSocket, subscriptions, static files.

See docs/rpc.md. Other areas only register handlers on a `Registry` and
topics on a `Hub`; `RpcServer` runs it all on the generic server.
"""
