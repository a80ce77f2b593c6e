// The home feed: pages of posts and reposts by followed accounts, and new ones live
// over the WebSocket (resumed from the newest cursor after a reconnect).

import { h } from "../dom.js";
import { infiniteList, postCard } from "./common.js";

export async function home(app, main) {
  const c = app.client;
  const pub = c.account.pub;
  const announce = h("p", { class: "sr-only", role: "status", "aria-live": "polite" });
  const pendingBox = h("div", { class: "pending-posts", "aria-label": "Your posts waiting to be final" });
  const liveBox = h("div", { class: "list", "aria-label": "New posts" });
  main.append(
    h("div", { class: "bar" }, h("h1", {}, "Home"), h("a", { href: "/compose", class: "button primary" }, "New post")),
    announce,
    pendingBox,
    liveBox,
  );
  const shown = new Set();
  const placeholders = new Map();
  let list = null;

  const addLive = async (ev) => {
    if (shown.has(ev.id)) return;
    shown.add(ev.id);
    let d;
    try {
      d = await c.rpc.call("social_getPost", { post: ev.post });
    } catch {
      shown.delete(ev.id);
      return;
    }
    const ph = placeholders.get(ev.id);
    if (ph) (ph.remove(), placeholders.delete(ev.id));
    const el = postCard(app, { kind: ev.kind, id: ev.id, by: ev.author, time_ms: ev.time_ms, post: d.post });
    el.classList.add("new");
    liveBox.prepend(el);
    if (list && list.list.children.length === 0) list.status.textContent = "You reached the end.";
    const who = ev.author.handle ? `@${ev.author.handle}` : "someone";
    announce.textContent = ev.kind === "repost" ? `${who} reposted a post` : `New post from ${who}`;
  };

  // your own posts, marked until final
  const placeholder = (entry) => {
    if (entry.kind !== "post" || shown.has(entry.hash) || placeholders.has(entry.hash)) return;
    const el = h("article", { class: "post pending", "data-post": entry.hash, "data-tx": entry.hash, "aria-label": "Your post, pending" },
      h("header", {}, h("span", { class: "badge pending" }, "Pending"), " waiting for the next block"),
      h("p", { class: "text" }, entry.fields.text || ""));
    placeholders.set(entry.hash, el);
    pendingBox.prepend(el);
  };
  const onPending = (e) => placeholder(e.detail);
  const onFinal = (e) => {
    const el = placeholders.get(e.detail.hash);
    if (!el) return;
    if (e.detail.state === "final") {
      el.remove();
      placeholders.delete(e.detail.hash);
      addLive({ kind: "post", id: e.detail.hash, post: e.detail.hash, author: { key: pub } });
    } else {
      el.classList.add("failed");
      el.querySelector("header").replaceChildren(h("span", { class: "badge error" }, "Not posted"), ` ${e.detail.result.code}`);
    }
  };
  for (const entry of c.pending.values()) placeholder(entry);
  c.addEventListener("pending", onPending);
  c.addEventListener("final", onFinal);

  // Subscribe first (from now on), then read the first page: an item is either live or
  // in the page (duplicates are dropped by id), never in neither.
  const sub = c.live.subscribe("social_subscribeFeed", { account: pub }, addLive, null);
  app.onLeave(() => {
    sub.close();
    c.removeEventListener("pending", onPending);
    c.removeEventListener("final", onFinal);
  });
  await sub.ready();
  if (!announce.isConnected) return; // the user went elsewhere meanwhile
  list = infiniteList({
    label: "Home feed",
    empty: "Your feed is empty: post something, or follow people (find them with Search).",
    more: "Load older posts",
    others: () => liveBox.children.length,
    load: (cursor) => c.rpc.call("social_getFeed", { account: pub, cursor, limit: 20 }),
    render: (item) => {
      if (shown.has(item.id)) return null;
      shown.add(item.id);
      return postCard(app, item);
    },
  });
  list.el.addEventListener("page", (e) => {
    const first = e.detail.items[0];
    if (first) sub.resumeFrom(first.cursor); // a reconnect resumes after it
  }, { once: true });
  main.append(list.el);
  app.onLeave(() => list.stop());
}
