// Search (posts, people, hashtags), a hashtag's posts, and trending hashtags.

import { h } from "../dom.js";
import { infiniteList, postCard } from "./common.js";
import { accountRow } from "./profile.js";

const KINDS = [["posts", "Posts"], ["people", "People"], ["tags", "Hashtags"]];

export async function render(app, main, params) {
  const c = app.client;
  const q = (params.get("q") || "").trim();
  const kind = KINDS.some(([k]) => k === params.get("in")) ? params.get("in") : "posts";
  main.append(h("h1", {}, "Search"));
  const input = h("input", { id: "search-q", type: "search", name: "q", value: q, autocomplete: "off", maxlength: "200" });
  const choice = h("fieldset", { class: "choice" }, h("legend", {}, "Search in"),
    KINDS.map(([k, label]) => h("label", {}, h("input", { type: "radio", name: "in", value: k, checked: k === kind }), ` ${label}`)));
  const form = h("form", { class: "search", role: "search", "aria-label": "Search" },
    h("label", { for: "search-q" }, "Words, @handle or #hashtag"), h("div", { class: "row" }, input, h("button", { type: "submit", class: "primary" }, "Search")), choice);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const p = new URLSearchParams({ q: String(data.get("q") || "").trim(), in: String(data.get("in") || "posts") });
    app.go(`/search?${p}`);
  });
  main.append(form);
  if (!q) {
    input.focus();
    return;
  }
  let list;
  const tag = /^#[\p{L}\p{N}_]+$/u.test(q) ? q.slice(1).toLowerCase() : null;
  if (kind === "posts") {
    list = infiniteList({
      label: `Posts matching ${q}`,
      more: "Load more posts",
      empty: "No post matches.",
      load: (cursor) => (tag
        ? c.rpc.call("social_getHashtag", { tag, cursor, limit: 20 })
        : c.rpc.call("social_searchPosts", { query: q, cursor, limit: 20 })),
      render: (p) => postCard(app, { post: p }),
    });
  } else if (kind === "people") {
    list = infiniteList({
      label: `People matching ${q}`,
      more: "Load more people",
      empty: "Nobody matches.",
      load: (cursor) => c.rpc.call("social_searchProfiles", { query: q.replace(/^@/, ""), cursor, limit: 20 }),
      render: accountRow,
    });
  } else {
    list = infiniteList({
      label: `Hashtags starting with ${q}`,
      more: "Load more hashtags",
      empty: "No hashtag starts so.",
      load: (cursor) => c.rpc.call("social_searchHashtags", { prefix: q.replace(/^#/, "") || q, cursor, limit: 30 }),
      render: tagRow,
    });
  }
  main.append(h("h2", {}, "Results"), list.el);
  app.onLeave(() => list.stop());
}

function tagRow(t) {
  return h("article", { class: "tag", "aria-label": `#${t.tag}` },
    h("a", { href: `/tag/${encodeURIComponent(t.tag)}`, class: "hashtag" }, `#${t.tag}`), ` ${t.posts} posts`);
}

export async function tag(app, main, _params, name) {
  const c = app.client;
  main.append(h("h1", {}, `#${name}`));
  const list = infiniteList({
    label: `Posts with #${name}`,
    more: "Load older posts",
    empty: "No posts with this hashtag.",
    load: (cursor) => c.rpc.call("social_getHashtag", { tag: name, cursor, limit: 20 }),
    render: (p) => postCard(app, { post: p }),
  });
  main.append(list.el);
  app.onLeave(() => list.stop());
}

export async function trending(app, main, params) {
  const c = app.client;
  const hours = [1, 24, 168].includes(Number(params.get("hours"))) ? Number(params.get("hours")) : 24;
  main.append(h("h1", {}, "Trending hashtags"));
  const pick = h("select", { id: "trend-hours", name: "hours" },
    [[1, "last hour"], [24, "last day"], [168, "last week"]].map(([n, l]) => h("option", { value: String(n), selected: n === hours }, l)));
  pick.addEventListener("change", () => app.go(`/trending?hours=${pick.value}`));
  main.append(h("div", { class: "row" }, h("label", { for: "trend-hours" }, "Period"), pick));
  const list = infiniteList({
    label: "Trending hashtags",
    more: "Load more hashtags",
    empty: "No hashtags used in this period.",
    load: (cursor) => c.rpc.call("social_getTrending", { hours, cursor, limit: 30 }),
    render: tagRow,
  });
  main.append(list.el);
  app.onLeave(() => list.stop());
}
