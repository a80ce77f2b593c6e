// Pieces every screen uses: the post card with its actions, and the infinite list.

import { accountLink, avatar, clear, fmtTime, h, nameOf } from "../dom.js";
import { richText } from "../text.js";

/** A post card. `item`: {post: PostView, kind?: "post"|"repost", by?: AccountRef}. */
export function postCard(app, item, opts = {}) {
  const post = item.post;
  const card = h("article", {
    class: "post" + (post.deleted ? " deleted" : ""),
    "data-post": post.id,
    "data-item": item.id || post.id,
    "aria-label": `Post by ${nameOf(post.author)}`,
  });
  card._item = item;
  card._opts = opts;
  fillCard(app, card, item, opts);
  return card;
}

function fillCard(app, card, item, opts) {
  clear(card);
  const post = item.post;
  card.classList.toggle("deleted", post.deleted);
  if (item.kind === "repost" && item.by) {
    card.append(h("p", { class: "context" }, "↻ reposted by ", accountLink(item.by)));
  }
  if (post.reply_to && !opts.inThread) {
    card.append(h("p", { class: "context" }, h("a", { href: `/p/${post.reply_to}` }, "↩ in reply to a post")));
  }
  const head = h(
    "header",
    {},
    avatar(post.author),
    accountLink(post.author),
    h("a", { href: `/p/${post.id}`, class: "time", "aria-label": `Open the post of ${new Date(post.time_ms).toLocaleString()}` },
      h("time", { datetime: new Date(post.time_ms).toISOString() }, fmtTime(post.time_ms))),
    post.edits ? h("a", { href: `/p/${post.id}#history`, class: "badge" }, "edited") : null,
  );
  card.append(head);
  if (post.deleted) {
    card.append(h("p", { class: "text gone" }, "This post was deleted."));
    return;
  }
  card.append(h("p", { class: "text" }, richText(post.text || "")));
  if (post.quote_of) card.append(quoted(app, post.quote_of));
  if (opts.actions !== false) card.append(actions(app, card, item));
}

function quoted(app, id) {
  const box = h("blockquote", { class: "quoted", "data-quote": id }, h("a", { href: `/p/${id}` }, "Quoted post"));
  fillQuote(app, box, id);
  return box;
}

/** (Re)draw a quoted post inside its box. */
export function fillQuote(app, box, id) {
  app.client.rpc.call("social_getPost", { post: id }).then(
    (d) => {
      clear(box);
      const q = d.post;
      box.append(
        h("p", { class: "context" }, accountLink(q.author), " · ", h("a", { href: `/p/${q.id}` }, "quoted post")),
        q.deleted ? h("p", { class: "text gone" }, "This post was deleted.") : h("p", { class: "text" }, richText(q.text || "")),
      );
    },
    () => {},
  );
}

function actions(app, card, item) {
  const post = item.post;
  const mine = app.client.account && post.author.key === app.client.account.pub;
  const liked = app.mine.has("liked", post.id);
  const reposted = app.mine.has("reposted", post.id);
  const bar = h("footer", { class: "actions" });
  const btn = (label, text, onclick, extra = {}) =>
    h("button", { type: "button", "aria-label": label, title: label, onclick, ...extra }, text);
  bar.append(
    btn(`Reply (${post.replies} replies)`, `↩ ${post.replies}`, () => app.go(`/compose?reply=${post.id}`)),
    btn(reposted ? `Undo repost (${post.reposts} reposts)` : `Repost (${post.reposts} reposts)`, `↻ ${post.reposts}`, async (e) => {
      const undo = app.mine.has("reposted", post.id);
      const entry = await app.act(undo ? "unrepost" : "repost", { post: post.id }, undo ? "Undo repost" : "Repost", e.currentTarget);
      if (entry) watch(app, card, item, entry, "reposted", !undo);
    }, { "aria-pressed": String(reposted), class: "repost" }),
    btn(`Quote (${post.quotes} quotes)`, `❝ ${post.quotes}`, () => app.go(`/compose?quote=${post.id}`)),
    btn(liked ? `Unlike (${post.reactions} reactions)` : `Like (${post.reactions} reactions)`, `♥ ${post.reactions}`, async (e) => {
      const undo = app.mine.has("liked", post.id);
      const entry = await app.act(undo ? "unreact" : "react", undo ? { post: post.id } : { post: post.id, reaction: "like" }, undo ? "Unlike" : "Like", e.currentTarget);
      if (entry) watch(app, card, item, entry, "liked", !undo);
    }, { "aria-pressed": String(liked), class: "like" }),
    h("a", { href: `/t/${post.root || post.id}`, class: "button", "aria-label": "Open the thread" }, "Thread"),
  );
  if (mine) {
    bar.append(
      btn("Edit the post", "Edit", () => app.go(`/compose?edit=${post.id}`)),
      btn("Delete the post", "Delete", () => confirmDelete(app, bar, post)),
    );
  }
  return bar;
}

function confirmDelete(app, bar, post) {
  const box = h("div", { class: "confirm", role: "group", "aria-label": "Confirm deletion" });
  const yes = h("button", { type: "button", class: "danger", "aria-label": "Yes, delete the post" }, "Yes, delete");
  const no = h("button", { type: "button", "aria-label": "Keep the post" }, "Keep");
  yes.addEventListener("click", async () => {
    const entry = await app.act("delete", { post: post.id }, "Delete", yes);
    if (entry) box.replaceWith(h("span", { class: "badge pending" }, "Deleting…"));
  });
  no.addEventListener("click", () => box.remove());
  box.append(h("span", {}, "Delete this post for everyone?"), yes, no);
  bar.append(box);
  yes.focus();
}

/** After an action: remember it locally, and redraw the card with fresh counts once final. */
function watch(app, card, item, entry, flag, on) {
  entry.final.then(async (res) => {
    if (res.code === "ok" || res.code === `already_${flag === "liked" ? "reacted" : "reposted"}`) app.mine.set(flag, item.post.id, on);
    await refreshCard(app, card);
  });
}

/** Re-read the card's post and draw it again (counts, edits, deletion). */
export async function refreshCard(app, card) {
  const id = card.dataset.post;
  try {
    const d = await app.client.rpc.call("social_getPost", { post: id });
    const item = card._item ? { ...card._item, post: d.post } : { post: d.post };
    card._item = item;
    fillCard(app, card, item, card._opts || {});
  } catch {
    /* gone or unreachable: leave it */
  }
}

/** A list that loads older pages when its end comes into view (and by its button). */
export function infiniteList({ label, load, render, empty = "Nothing here yet.", more = "Load more", others = () => 0 }) {
  const list = h("div", { class: "list", role: "feed", "aria-label": label, "aria-busy": "false" });
  const status = h("p", { class: "list-status", role: "status" });
  const button = h("button", { type: "button", class: "more", "aria-label": `${more}: ${label}` }, more);
  const wrap = h("section", { class: "infinite" }, list, status, button);
  let cursor = null, started = false, loading = false, done = false;
  const page = async () => {
    if (loading || done) return;
    loading = true;
    list.setAttribute("aria-busy", "true");
    status.textContent = "Loading…";
    try {
      const res = await load(started ? cursor : null);
      started = true;
      for (const item of res.items) {
        const el = render(item);
        if (el) list.append(el);
      }
      cursor = res.cursor;
      done = !cursor;
      status.textContent = done ? (list.children.length || others() ? "You reached the end." : empty) : "";
      button.hidden = done;
      wrap.dispatchEvent(new CustomEvent("page", { detail: res }));
      requestAnimationFrame(() => {
        const r = button.getBoundingClientRect();
        if (!done && r.top < innerHeight + 400) page(); // a short page: the end is still in view
      });
    } catch (e) {
      status.textContent = e.explained || e.message;
    } finally {
      loading = false;
      list.setAttribute("aria-busy", "false");
    }
  };
  button.addEventListener("click", page);
  const seen = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) page();
  }, { rootMargin: "400px" });
  seen.observe(button);
  page();
  return { el: wrap, list, page, stop: () => seen.disconnect(), prepend: (el) => list.prepend(el), status };
}
