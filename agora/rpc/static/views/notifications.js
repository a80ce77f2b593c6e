// Notifications: mentions, replies, quotes, reposts, reactions and follows, live.

import { accountLink, fmtTime, h } from "../dom.js";
import { infiniteList } from "./common.js";

const VERBS = {
  mention: "mentioned you",
  reply: "replied to your post",
  quote: "quoted your post",
  repost: "reposted your post",
  reaction: "reacted to your post",
  follow: "followed you",
};

function row(n) {
  const verb = n.kind === "reaction" && n.reaction ? `reacted ${n.reaction === "like" ? "♥" : n.reaction} to your post` : VERBS[n.kind] || n.kind;
  const target = n.post || n.subject;
  return h("article", { class: `note ${n.kind}`, "data-kind": n.kind, "aria-label": `Notification: ${verb}` },
    h("p", {}, accountLink(n.actor), ` ${verb} `,
      target ? h("a", { "aria-label": "View the post", href: `/p/${n.kind === "reaction" || n.kind === "repost" ? n.subject || n.post : n.post}` }, "view") : null,
      " · ", h("time", { datetime: new Date(n.time_ms).toISOString() }, fmtTime(n.time_ms))));
}

export async function render(app, main) {
  const c = app.client;
  const pub = c.account.pub;
  main.append(h("h1", {}, "Notifications"));
  const liveBox = h("div", { class: "list", "aria-label": "New notifications", "aria-live": "polite" });
  main.append(liveBox);
  const seen = new Set();
  const key = (n) => n.cursor;
  const sub = c.live.subscribe("social_subscribeNotifications", { account: pub }, (n) => {
    if (seen.has(key(n))) return;
    seen.add(key(n));
    liveBox.prepend(row(n));
  }, null);
  app.onLeave(() => sub.close());
  await sub.ready();
  if (!liveBox.isConnected) return;
  const list = infiniteList({
    label: "Notifications",
    more: "Load older notifications",
    empty: "No notifications yet.",
    load: (cursor) => c.rpc.call("social_getNotifications", { account: pub, cursor, limit: 30 }).catch((e) => {
      if (e.code === "not_found") return { items: [], cursor: null }; // an account that never acted
      throw e;
    }),
    render: (n) => {
      if (seen.has(key(n))) return null;
      seen.add(key(n));
      return row(n);
    },
  });
  list.el.addEventListener("page", (e) => e.detail.items[0] && sub.resumeFrom(e.detail.items[0].cursor), { once: true });
  main.append(list.el);
  app.onLeave(() => list.stop());

}
