"""Registering a subscription topic: `<area>_subscribe<Thing>` and `<area>_unsubscribe`."""

from __future__ import annotations

from typing import Any, cast

import msgspec

from agora.errors import LocalError
from agora.rpc.codes import SUBSCRIPTION, UNSUPPORTED, RpcError
from agora.rpc.methods import Context, Registry
from agora.rpc.subscriptions import Hub, Subscriber, Topic


class Unsubscribe(msgspec.Struct, frozen=True):
    subscription: str


def _subscriber(ctx: Context) -> Subscriber:
    if ctx.session.transport != "ws":
        msg = "subscriptions need a WebSocket (GET /ws)"
        raise RpcError(UNSUPPORTED, msg, code="needs_websocket")
    return cast(Subscriber, ctx.session)


def add_topic(registry: Registry, hub: Hub, topic: Topic) -> None:
    """Make `topic` subscribable over WebSocket; its result is the subscription id."""
    area, _, verb = topic.method.partition("_")
    if not verb.startswith("subscribe"):
        raise LocalError(
            f"a topic is named <area>_subscribe<Thing>: {topic.method}", code="bad_topic"
        )
    cursor = next((f for f in msgspec.structs.fields(topic.params) if f.name == "cursor"), None)
    if cursor is None or cursor.required:
        msg = f"{topic.method}: its params need an optional `cursor` field"
        raise LocalError(msg, code="bad_topic")
    unsubscribe = f"{area}_unsubscribe"

    def subscribe(ctx: Context, params: Any) -> str:
        return hub.subscribe(topic, params, _subscriber(ctx))

    registry.add(
        topic.method,
        subscribe,
        params=topic.params,
        result=str,
        summary=topic.summary or f"Subscribe to {topic.stream}",
        description=topic.description,
        tags=(area, "subscription"),
        errors=(UNSUPPORTED, SUBSCRIPTION),
        extra={
            "x-subscription": {
                "notification": "subscription",
                "unsubscribe": unsubscribe,
                "item": topic.item,
            }
        },
    )
    if unsubscribe in registry:
        return

    def unsubscribe_fn(ctx: Context, params: Unsubscribe) -> bool:
        return hub.unsubscribe(params.subscription, _subscriber(ctx))

    registry.add(
        unsubscribe,
        unsubscribe_fn,
        params=Unsubscribe,
        result=bool,
        summary=f"End a subscription made by an {area}_subscribe* method",
        tags=(area, "subscription"),
        errors=(UNSUPPORTED,),
    )
