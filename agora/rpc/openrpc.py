"""The OpenRPC 1.2.6 document that `rpc_discover` serves, generated from the registry."""

from __future__ import annotations

from typing import Any

import msgspec

from agora.rpc.codes import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
)
from agora.rpc.methods import Context, Method, Registry

OPENRPC_VERSION = "1.2.6"
_REF = "#/components/schemas/{name}"
_STANDARD = (PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR)


def _fields(m: Method) -> tuple[msgspec.structs.FieldInfo, ...]:
    return msgspec.structs.fields(m.params) if m.params is not None else ()


def document(reg: Registry) -> dict[str, Any]:
    """Every registered method with its params, result and errors, as JSON Schema."""
    methods = list(reg)
    types: list[Any] = []
    for m in methods:
        types.extend(f.type for f in _fields(m))
        types.append(m.result)
        sub = m.extra.get("x-subscription")
        if sub is not None:
            types.append(sub["item"])
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    it = iter(schemas)
    msgs = reg.errors.messages
    out = []
    for m in methods:
        entry: dict[str, Any] = {"name": m.name}
        if m.summary:
            entry["summary"] = m.summary
        if m.description:
            entry["description"] = m.description
        if m.tags:
            entry["tags"] = [{"name": t} for t in m.tags]
        entry["paramStructure"] = "either"
        entry["params"] = [
            {"name": f.encode_name, "required": f.required, "schema": next(it)} for f in _fields(m)
        ]
        entry["result"] = {"name": f"{m.name}Result", "schema": next(it)}
        if m.errors:
            entry["errors"] = [{"code": n, "message": msgs.get(n, "Error")} for n in m.errors]
        for key, value in m.extra.items():
            if key == "x-subscription":
                value = {**value, "item": next(it)}
            entry[key] = value
        out.append(entry)
    errors = {str(n): {"message": msgs.get(n, "Error"), "codes": codes}
              for n, codes in sorted(reg.errors.numbers().items(), reverse=True)}  # fmt: skip
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": reg.title, "version": reg.version},
        "methods": out,
        "components": {
            "schemas": components,
            "errors": {f"e{-n}": {"code": n, "message": msgs[n]} for n in _STANDARD},
        },
        "x-errorCodes": errors,
    }


def add_discover(reg: Registry) -> None:
    """Register `rpc_discover` (and OpenRPC's conventional name `rpc.discover`)."""
    cache: dict[int, dict[str, Any]] = {}

    def rpc_discover(ctx: Context) -> dict[str, Any]:
        doc = cache.get(len(reg))  # methods are only ever added
        if doc is None:
            cache.clear()
            doc = cache[len(reg)] = document(reg)
        return doc

    reg.add(
        "rpc_discover",
        rpc_discover,
        result=dict[str, Any],
        summary="This API as an OpenRPC document",
        tags=("rpc",),
    )
    reg.alias("rpc.discover", "rpc_discover")
