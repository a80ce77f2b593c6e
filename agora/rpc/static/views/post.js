// One post with its edit history and reactions; a thread as a tree of replies.

import { accountLink, fmtTime, h } from "../dom.js";
import { richText } from "../text.js";
import { infiniteList, postCard } from "./common.js";

export async function detail(app, main, _params, id) {
  const c = app.client;
  const d = await c.rpc.call("social_getPost", { post: id });
  const p = d.post;
  main.append(h("h1", {}, "Post"));
  const keep = h("div", { "data-keep-deleted": "" }, postCard(app, { post: p }));
  main.append(keep);
  const reactions = Object.entries(d.reactions);
  main.append(
    h("section", { "aria-labelledby": "reactions-h" }, h("h2", { id: "reactions-h" }, "Reactions"),
      reactions.length
        ? h("ul", { class: "chips" }, reactions.map(([r, n]) => h("li", {}, `${r === "like" ? "♥" : r} ${n}`)))
        : h("p", {}, "No reactions yet.")),
    h("p", {}, h("a", { href: `/t/${p.root || p.id}` }, `Open the thread (${p.replies} ${p.replies === 1 ? "reply" : "replies"})`), " · ", "by ", accountLink(p.author)),
  );
  const history = h("section", { id: "history", "aria-labelledby": "history-h" }, h("h2", { id: "history-h" }, "Edit history"));
  const drawHistory = (versions) => {
    history.replaceChildren(history.firstChild);
    if (!versions.length) {
      history.append(h("p", {}, p.deleted ? "Deleted: its history is erased." : "Never edited."));
      return;
    }
    history.append(h("ol", { class: "versions" }, versions.map((v, i) =>
      h("li", { "data-version": v.id },
        h("p", { class: "context" }, i === 0 ? "Original" : `Edit ${i}`, " · ",
          h("time", { datetime: new Date(v.time_ms).toISOString() }, `${new Date(v.time_ms).toLocaleString()} (${fmtTime(v.time_ms)})`)),
        h("p", { class: "text" }, richText(v.text))))));
  };
  drawHistory(d.versions);
  main.append(history);
  const onChange = async (e) => {
    if (e.detail.post !== id) return;
    try {
      const fresh = await c.rpc.call("social_getPost", { post: id });
      drawHistory(fresh.versions);
    } catch {
      /* keep what is shown */
    }
  };
  main.addEventListener("post-changed", onChange);
  app.onLeave(() => main.removeEventListener("post-changed", onChange));
}

export async function thread(app, main, _params, id) {
  const c = app.client;
  main.append(h("h1", {}, "Thread"));
  const rootBox = h("div", { "data-keep-deleted": "" });
  const tree = h("div", { class: "tree", "aria-label": "Replies" });
  main.append(rootBox, tree);
  const replies = new Map(); // id -> PostView
  let root = null;
  const draw = () => {
    const kids = new Map();
    for (const r of replies.values()) {
      if (!kids.has(r.reply_to)) kids.set(r.reply_to, []);
      kids.get(r.reply_to).push(r);
    }
    const branch = (parent, depth) => {
      const list = (kids.get(parent) || []).sort((a, b) => a.time_ms - b.time_ms);
      if (!list.length) return null;
      return h("ul", { class: "replies", role: "list" }, list.map((r) => h("li", { class: depth > 3 ? "deep" : "" },
        postCard(app, { post: r }, { inThread: true }), branch(r.id, depth + 1))));
    };
    tree.replaceChildren(...[branch(root.id, 0)].filter(Boolean));
    const focus = main.querySelector(`article.post[data-post="${id}"]`);
    if (focus && id !== root.id) focus.classList.add("focus");
  };
  const list = infiniteList({
    label: "Thread replies",
    more: "Load more replies",
    empty: "No replies yet.",
    load: async (cursor) => {
      const t = await c.rpc.call("social_getThread", { post: id, cursor, limit: 50 });
      if (!root) {
        root = t.root;
        rootBox.append(postCard(app, { post: root }, { inThread: true }));
      }
      for (const r of t.items) replies.set(r.id, r);
      draw();
      return { items: [], cursor: t.cursor, count: t.items.length };
    },
    render: () => null,
  });
  list.status.hidden = true;
  main.append(list.el);
  const onChange = async (e) => {
    if (e.detail.what !== "reply" || !root) return;
    if (e.detail.post !== root.id && !replies.has(e.detail.post)) return;
    const t = await c.rpc.call("social_getThread", { post: id, limit: 50 });
    for (const r of t.items) replies.set(r.id, r);
    draw();
  };
  main.addEventListener("post-changed", onChange);
  app.onLeave(() => {
    list.stop();
    main.removeEventListener("post-changed", onChange);
  });
}
