// A profile: its counts, follow / unfollow, mute / unmute, block / unblock, its posts;
// and the lists of followers and following.

import { accountPath, avatar, h, nameOf, shortKey } from "../dom.js";
import { richText } from "../text.js";
import { infiniteList, postCard } from "./common.js";

export function me(app) {
  const c = app.client;
  const me = c.me;
  app.go(me && me.handle ? `/u/@${me.handle}` : `/u/${c.account.pub}`, true);
}

async function getProfile(app, account) {
  const c = app.client;
  if (c.account && account !== c.account.pub && !(c.me && c.me.handle && account === `@${c.me.handle}`)) {
    try {
      return await c.rpc.call("social_getProfile", { account, viewer: c.account.pub });
    } catch (e) {
      if (e.code !== "not_found") throw e; // not_found: maybe it is the viewer who never acted
    }
  }
  const p = await c.rpc.call("social_getProfile", { account });
  if (c.account && p.key !== c.account.pub) {
    // the viewer has not acted yet, so it has no relation to anyone
    p.relation = { following: false, followed_by: false, muted: false, blocked: false, blocked_by: false };
  }
  return p;
}

export async function render(app, main, _params, account) {
  const c = app.client;
  let p;
  try {
    p = await getProfile(app, account);
  } catch (e) {
    if (e.code !== "not_found") throw e;
    main.append(h("h1", {}, account), h("p", {}, "No such account yet: it has not acted on the chain."));
    return;
  }
  const ref = { key: p.key, handle: p.handle };
  const mine = c.account && p.key === c.account.pub;
  main.append(
    h("div", { class: "profile-head" }, avatar(ref),
      h("div", {}, h("h1", {}, p.name || nameOf(ref)),
        h("p", { class: "handle" }, p.handle ? `@${p.handle}` : "no handle yet", " · ", h("code", { title: p.key }, shortKey(p.key))))),
  );
  if (p.bio) main.append(h("p", { class: "bio" }, richText(p.bio)));
  if (p.avatar_url) main.append(h("p", { class: "context" }, "Avatar: ", h("a", { href: p.avatar_url, rel: "noopener noreferrer nofollow", target: "_blank" }, p.avatar_url)));
  main.append(h("ul", { class: "stats" },
    h("li", {}, h("strong", {}, String(p.posts)), p.posts === 1 ? " post" : " posts"),
    h("li", {}, h("a", { href: `${accountPath(ref)}/followers` }, h("strong", {}, String(p.followers)), p.followers === 1 ? " follower" : " followers")),
    h("li", {}, h("a", { href: `${accountPath(ref)}/following` }, h("strong", {}, String(p.following)), " following"))));
  if (p.relation) main.append(relationBar(app, p, ref));
  else if (mine) main.append(h("p", {}, h("a", { href: "/settings#profile", class: "button" }, "Edit your profile")));
  const list = infiniteList({
    label: `Posts by ${nameOf(ref)}`,
    more: "Load older posts",
    empty: "No posts yet.",
    load: (cursor) => c.rpc.call("social_getPosts", { account: p.key, cursor, limit: 20 }),
    render: (item) => postCard(app, item),
  });
  main.append(h("h2", {}, "Posts"), list.el);
  app.onLeave(() => list.stop());
}

function relationBar(app, p, ref) {
  const r = p.relation;
  const bar = h("div", { class: "relation", role: "group", "aria-label": `Your relation to ${nameOf(ref)}` });
  if (r.followed_by) bar.append(h("span", { class: "badge" }, "follows you"));
  if (r.blocked_by) bar.append(h("span", { class: "badge error" }, "has blocked you"));
  const target = { key: p.key, handle: "" };
  const toggle = (on, doLabel, undoLabel, kind, unkind) => {
    const label = on ? undoLabel : doLabel;
    const b = h("button", { type: "button", "aria-pressed": String(on), class: on || kind !== "follow" ? "" : "primary" }, label);
    b.addEventListener("click", async () => {
      const entry = await app.act(on ? unkind : kind, target, `${label} ${nameOf(ref)}`, b);
      if (!entry) return;
      b.textContent = `${label}… (pending)`;
      const res = await entry.final;
      if (res.code === "ok" && location.pathname.startsWith("/u/")) app.go(location.pathname, true);
      else b.textContent = label;
    });
    return b;
  };
  bar.append(
    toggle(r.following, "Follow", "Unfollow", "follow", "unfollow"),
    toggle(r.muted, "Mute", "Unmute", "mute", "unmute"),
    toggle(r.blocked, "Block", "Unblock", "block", "unblock"),
  );
  return bar;
}

export async function people(app, main, _params, account, which) {
  const c = app.client;
  const title = which === "followers" ? `Followers of ${account}` : `Followed by ${account}`;
  main.append(h("h1", {}, title), h("p", {}, h("a", { href: `/u/${account}` }, `Back to ${account}`)));
  const method = which === "followers" ? "social_getFollowers" : "social_getFollowing";
  const list = infiniteList({
    label: title,
    more: "Load more accounts",
    empty: which === "followers" ? "No followers yet." : "Follows nobody yet.",
    load: (cursor) => c.rpc.call(method, { account, cursor, limit: 30 }),
    render: (item) => accountRow(item),
  });
  main.append(list.el);
  app.onLeave(() => list.stop());
}

export function accountRow(item) {
  const ref = item.account;
  return h("article", { class: "account", "aria-label": nameOf(ref) }, avatar(ref),
    h("div", {}, h("a", { href: accountPath(ref), class: "who" }, item.name ? `${item.name} (${nameOf(ref)})` : nameOf(ref)),
      item.bio ? h("p", { class: "bio" }, richText(item.bio)) : null));
}
