"""rpc_discover: an OpenRPC 1.2.6 document listing every registered method."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from rpc_helpers import FakeSession

from agora.rpc.codes import NOT_FOUND
from agora.rpc.jsonrpc import Dispatcher
from agora.rpc.methods import Context, Registry, Services
from agora.rpc.subscriptions import Hub, Topic
from agora.rpc.topics import add_topic


class Header(msgspec.Struct):
    height: int
    hash: str


class Block(msgspec.Struct):
    header: Header
    txs: list[bytes]


class GetBlock(msgspec.Struct):
    height: int | None = None
    hash: str | None = None


class Blocks(msgspec.Struct):
    cursor: int | str | None = None


class NoSource:
    def head(self, params: Any) -> int:
        return 0

    def backfill(self, params: Any, after: int, limit: int) -> Sequence[tuple[int, Any]]:
        return []

    def matches(self, params: Any, item: Any) -> bool:
        return True


def registry() -> Registry:
    reg = Registry()
    reg.add(
        "chain_getBlock",
        lambda ctx, p: None,
        params=GetBlock,
        result=Block | None,
        summary="A block by height or hash",
        tags=["chain"],
        errors=[NOT_FOUND],
    )
    reg.add("chain_status", lambda ctx: {}, result=dict[str, Any])
    add_topic(reg, Hub(), Topic("chain_subscribeBlocks", "blocks", Blocks, Block, NoSource()))
    return reg


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def check_openrpc_shape(doc: Any) -> None:
    """The OpenRPC 1.2.6 top-level rules that a client relies on."""
    assert isinstance(doc, dict)
    assert re.fullmatch(r"1\.2\.\d+", doc["openrpc"])
    assert isinstance(doc["info"]["title"], str) and isinstance(doc["info"]["version"], str)
    allowed = {"openrpc", "info", "servers", "methods", "components", "externalDocs"}
    assert all(k in allowed or k.startswith("x-") for k in doc)
    names = [m["name"] for m in doc["methods"]]
    assert len(names) == len(set(names))
    for m in doc["methods"]:
        assert isinstance(m["name"], str) and isinstance(m["params"], list)
        assert m.get("paramStructure", "either") in ("by-name", "by-position", "either")
        for cd in [*m["params"], m["result"]]:
            assert isinstance(cd["name"], str) and isinstance(cd["schema"], dict)
        for p in m["params"]:
            assert isinstance(p.get("required", False), bool)
        for e in m.get("errors", []):
            assert isinstance(e["code"], int) and isinstance(e["message"], str)
        for t in m.get("tags", []):
            assert isinstance(t["name"], str)
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def discover(reg: Registry, method: str = "rpc_discover") -> Any:
    d = Dispatcher(reg, Services())
    out = d.dispatch(
        msgspec.json.encode({"jsonrpc": "2.0", "id": 1, "method": method}), FakeSession()
    )
    assert isinstance(out, bytes)
    return msgspec.json.decode(out)["result"]


def test_lists_every_method_with_schemas() -> None:
    reg = registry()
    doc = discover(reg)
    check_openrpc_shape(doc)
    assert doc["openrpc"] == "1.2.6"
    by_name = {m["name"]: m for m in doc["methods"]}
    assert set(by_name) == {m.name for m in reg}
    assert set(by_name) == {
        "rpc_discover",
        "chain_getBlock",
        "chain_status",
        "chain_subscribeBlocks",
        "chain_unsubscribe",
    }
    gb = by_name["chain_getBlock"]
    assert [p["name"] for p in gb["params"]] == ["height", "hash"]
    assert [p["required"] for p in gb["params"]] == [False, False]
    assert gb["errors"] == [{"code": -32004, "message": "Not found"}]
    assert gb["tags"] == [{"name": "chain"}]
    assert "Block" in doc["components"]["schemas"] and "Header" in doc["components"]["schemas"]
    sub = by_name["chain_subscribeBlocks"]
    assert sub["x-subscription"]["unsubscribe"] == "chain_unsubscribe"
    assert sub["x-subscription"]["item"] == {"$ref": "#/components/schemas/Block"}
    assert sub["result"]["schema"] == {"type": "string"}
    assert doc["x-errorCodes"]["-32010"]["codes"].count("over_quota") == 1


def test_new_methods_show_up_and_the_alias_answers() -> None:
    reg = registry()
    assert len(discover(reg)["methods"]) == 5

    def later(ctx: Context) -> int:
        return 1

    reg.add("social_later", later, result=int)
    doc = discover(reg, "rpc.discover")
    check_openrpc_shape(doc)
    assert "social_later" in [m["name"] for m in doc["methods"]]
    assert "rpc.discover" not in [m["name"] for m in doc["methods"]]
