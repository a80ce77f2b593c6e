"""Readable tables of query results for the CLI (rich)."""

from __future__ import annotations

import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def console() -> Console:
    return Console(soft_wrap=False, width=160, highlight=False)


def who(ref: dict[str, Any] | None) -> str:
    if not ref:
        return "-"
    return f"@{ref['handle']}" if ref.get("handle") else escape(ref["key"][:16]) + "…"


def when(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _counts(p: dict[str, Any]) -> str:
    parts = [f"↩ {p['replies']}", f"⟲ {p['reposts']}", f"♥ {p['reactions']}"]
    if p["quotes"]:
        parts.append(f"❝ {p['quotes']}")
    if p["edits"]:
        parts.append(f"edited {p['edits']}x")
    return "  ".join(parts)


def _text(p: dict[str, Any]) -> str:
    if p["deleted"]:
        return "(deleted)"
    t = escape(p["text"] or "")
    if p.get("reply_to"):
        t = f"↩ {p['reply_to'][:12]}…  {t}"
    if p.get("quote_of"):
        t = f"{t}  ❝ {p['quote_of'][:12]}…"
    return t


def posts_table(title: str, items: list[dict[str, Any]], *, feed: bool) -> Table:
    t = Table(title=title, show_lines=True, expand=False)
    t.add_column("when", no_wrap=True)
    t.add_column("who", no_wrap=True)
    t.add_column("post", overflow="fold", max_width=70)
    t.add_column("counts", no_wrap=True)
    t.add_column("id", overflow="fold", max_width=64)
    for it in items:
        p = it["post"] if feed else it
        by = who(it["by"]) if feed else who(p["author"])
        if feed and it["kind"] == "repost":
            by = f"{by} reposted {who(p['author'])}"
        t.add_row(when(it["time_ms"]), by, _text(p), _counts(p), p["id"])
    return t


def thread_table(th: dict[str, Any]) -> Table:
    t = posts_table("thread", [th["root"], *th["items"]], feed=False)
    return t


def post_detail(d: dict[str, Any]) -> list[Table]:
    out = [posts_table("post", [d["post"]], feed=False)]
    if d["versions"]:
        v = Table(title="edit history", show_lines=True)
        v.add_column("when", no_wrap=True)
        v.add_column("text", overflow="fold", max_width=90)
        v.add_column("tx", overflow="fold", max_width=64)
        for x in d["versions"]:
            v.add_row(when(x["time_ms"]), escape(x["text"]), x["id"])
        out.append(v)
    if d["reactions"]:
        r = Table(title="reactions")
        r.add_column("reaction")
        r.add_column("count", justify="right")
        for k, n in d["reactions"].items():
            r.add_row(escape(k), str(n))
        out.append(r)
    return out


def profile_table(p: dict[str, Any]) -> Table:
    t = Table(title=f"@{p['handle']}" if p["handle"] else p["key"][:16], show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold", max_width=90)
    rows = [
        ("key", p["key"]),
        ("name", p["name"]),
        ("bio", p["bio"]),
        ("avatar", p["avatar_url"]),
        ("posts", str(p["posts"])),
        ("followers", str(p["followers"])),
        ("following", str(p["following"])),
        ("since block", str(p["since_height"])),
    ]
    rel = p.get("relation")
    if rel:
        rows.append(("you", ", ".join(k for k, v in rel.items() if v) or "-"))
    for k, v in rows:
        t.add_row(k, escape(v))
    return t


def notifications_table(items: list[dict[str, Any]]) -> Table:
    t = Table(title="notifications", show_lines=False)
    t.add_column("when", no_wrap=True)
    t.add_column("what", no_wrap=True)
    t.add_column("who", no_wrap=True)
    t.add_column("about", overflow="fold", max_width=64)
    for n in items:
        what = n["kind"] + (f" {escape(n['reaction'])}" if n.get("reaction") else "")
        t.add_row(
            when(n["time_ms"]), what, who(n["actor"]), n.get("subject") or n.get("post") or ""
        )
    return t


def accounts_table(title: str, items: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    t.add_column("account", no_wrap=True)
    t.add_column("name", overflow="fold", max_width=30)
    t.add_column("bio", overflow="fold", max_width=60)
    t.add_column("key", overflow="fold", max_width=64)
    for a in items:
        t.add_row(who(a["account"]), escape(a["name"]), escape(a["bio"]), a["account"]["key"])
    return t


def tags_table(title: str, items: list[dict[str, Any]]) -> Table:
    t = Table(title=title)
    t.add_column("hashtag")
    t.add_column("posts", justify="right")
    for x in items:
        t.add_row(escape(f"#{x['tag']}"), str(x["posts"]))
    return t


def result_table(kind: str, res: dict[str, Any]) -> Table:
    t = Table(title=kind, show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold", max_width=90)
    t.add_row("tx", res.get("hash", ""))
    if "height" in res:
        t.add_row("block", str(res["height"]))
    code = res.get("code", "")
    t.add_row("result", code if code in ("ok", "pending") else f"{code}: {res.get('message', '')}")
    return t
