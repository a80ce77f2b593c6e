// Agora's web client: routes, the shell (navigation, pending txs, messages) and the
// glue between screens and the node. Plain ES modules, no build step, nothing loaded
// from anywhere but the node that serves this page.

import { Client } from "./client.js";
import { clear, h, nameOf } from "./dom.js";
import { explain } from "./errors.js";
import { fillQuote, refreshCard } from "./views/common.js";
import * as feed from "./views/feed.js";
import * as compose from "./views/compose.js";
import * as post from "./views/post.js";
import * as profile from "./views/profile.js";
import * as notes from "./views/notifications.js";
import * as search from "./views/search.js";
import * as settings from "./views/settings.js";

const ROUTES = [
  [/^\/$/, feed.home, "home"],
  [/^\/welcome$/, settings.welcome, "settings"],
  [/^\/compose$/, compose.render, "compose"],
  [/^\/p\/([0-9a-f]{64})$/, post.detail, null],
  [/^\/t\/([0-9a-f]{64})$/, post.thread, null],
  [/^\/me$/, profile.me, "profile"],
  [/^\/u\/([^/]+)$/, profile.render, "profile"],
  [/^\/u\/([^/]+)\/(followers|following)$/, profile.people, "profile"],
  [/^\/notifications$/, notes.render, "notifications"],
  [/^\/search$/, search.render, "search"],
  [/^\/tag\/([^/]+)$/, search.tag, "search"],
  [/^\/trending$/, search.trending, "trending"],
  [/^\/settings$/, settings.render, "settings"],
];

/** What the client remembers of its own likes and reposts (the node's views have no
 * per-viewer flags); per account, in localStorage. */
class Mine {
  constructor() {
    this.pub = null;
    this.data = { liked: [], reposted: [] };
  }
  use(pub) {
    this.pub = pub;
    try {
      this.data = JSON.parse(localStorage.getItem(`agora.mine.${pub}`)) || { liked: [], reposted: [] };
    } catch {
      this.data = { liked: [], reposted: [] };
    }
  }
  has(flag, id) {
    return this.data[flag].includes(id);
  }
  set(flag, id, on) {
    const list = this.data[flag].filter((x) => x !== id);
    if (on) list.push(id);
    this.data[flag] = list.slice(-2000);
    if (this.pub) localStorage.setItem(`agora.mine.${this.pub}`, JSON.stringify(this.data));
  }
}

class App {
  constructor() {
    this.main = document.getElementById("main");
    this.mine = new Mine();
    this.cleanup = [];
    this.client = null;
    this.txlog = {}; // tx hash -> "pending" | "final" | "failed" (what the page showed)
    this.lastTx = null;
  }

  nodeUrl() {
    return localStorage.getItem("agora.node") || location.origin;
  }

  async start() {
    document.addEventListener("click", (e) => this.intercept(e));
    addEventListener("popstate", () => this.route());
    await this.connect();
    this.route();
  }

  async connect() {
    if (this.client) this.client.close();
    const c = new Client(this.nodeUrl());
    this.client = c;
    c.addEventListener("live", (e) => {
      const el = document.getElementById("live");
      el.textContent = e.detail.status === "live" ? "● live" : e.detail.status === "reconnecting" ? "reconnecting…" : "connecting…";
      el.dataset.state = e.detail.status;
    });
    c.addEventListener("pending", (e) => this.showPending(e.detail));
    c.addEventListener("final", (e) => this.showFinal(e.detail));
    c.addEventListener("me", () => this.showMe());
    c.addEventListener("post-changed", (e) => this.postChanged(e.detail));
    try {
      await c.load();
      if (c.account) {
        this.mine.use(c.account.pub);
        await this.watchUnread(c);
      }
    } catch (e) {
      this.toast(`The node did not answer: ${explain(e)}`, true);
    }
  }

  /** A count of new notifications on the navigation, until the notifications screen opens. */
  async watchUnread(c) {
    const badge = document.getElementById("unread");
    let n = 0;
    badge.hidden = true;
    // From the newest notification there is now (or the very first): whenever the node
    // registers the subscription, and after any reconnect, nothing newer is missed.
    // An account the chain does not know yet has none: it starts from the node's now.
    let from = null;
    try {
      const page = await c.rpc.call("social_getNotifications", { account: c.account.pub, limit: 1 });
      from = page.items.length ? page.items[0].cursor : "0.0.0";
    } catch {
      from = null;
    }
    c.live.subscribe("social_subscribeNotifications", { account: c.account.pub }, () => {
      if (location.pathname === "/notifications" || this.client !== c) return;
      n += 1;
      badge.textContent = String(n);
      badge.setAttribute("aria-label", `${n} new`);
      badge.hidden = false;
    }, from);
    this.resetUnread = () => {
      n = 0;
      badge.hidden = true;
    };
  }

  showMe() {
    const el = document.getElementById("me");
    clear(el);
    const me = this.client.me;
    if (!me) return;
    el.append(h("a", { href: "/me" }, me.handle ? `@${me.handle}` : nameOf({ key: me.key })));
  }

  intercept(e) {
    const a = e.target.closest("a");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || a.hasAttribute("download")) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    e.preventDefault();
    this.go(url.pathname + url.search + url.hash);
  }

  go(path, replace = false) {
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    this.route();
  }

  route() {
    for (const f of this.cleanup.splice(0)) f();
    if (location.pathname === "/notifications" && this.resetUnread) this.resetUnread();
    clear(this.main);
    const path = location.pathname;
    const params = new URLSearchParams(location.search);
    for (const [re, view, nav] of ROUTES) {
      const m = re.exec(path);
      if (!m) continue;
      for (const a of document.querySelectorAll("[data-nav]")) {
        if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
      }
      if (!this.client.account && !["settings", "search", "trending"].includes(nav) && view !== post.detail && view !== post.thread && view !== profile.render) {
        if (path !== "/welcome") return this.go("/welcome", true);
      }
      const args = m.slice(1).map(decodeURIComponent);
      Promise.resolve(view(this, this.main, params, ...args)).then(
        () => this.focusHeading(),
        (e) => this.main.append(h("p", { class: "error", role: "alert" }, explain(e))),
      );
      return;
    }
    this.main.append(h("h1", {}, "Not found"), h("p", {}, "No such page. "), h("a", { href: "/" }, "Home"));
  }

  focusHeading() {
    const h1 = this.main.querySelector("h1");
    document.title = h1 ? `${h1.textContent} · Agora` : "Agora";
    // a new screen says where the user is, unless it focused a field of its own
    if (h1 && this.navigated && !this.main.contains(document.activeElement)) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
    this.navigated = true;
  }

  onLeave(fn) {
    this.cleanup.push(fn);
  }

  toast(message, error = false) {
    const box = document.getElementById("toasts");
    const t = h("div", { class: "toast" + (error ? " error" : ""), role: error ? "alert" : "status" },
      h("span", {}, message),
      h("button", { type: "button", "aria-label": "Dismiss the message", onclick: () => t.remove() }, "×"));
    box.append(t);
    if (!error) setTimeout(() => t.remove(), 5000);
    return t;
  }

  /** Send a tx for a button: the button shows it is pending; a refusal is said in words. */
  async act(kind, fields, label, button = null) {
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    try {
      const entry = await this.client.send(kind, fields, label);
      if (button) button.classList.add("is-pending");
      entry.final.then(() => {
        if (button) {
          button.disabled = false;
          button.removeAttribute("aria-busy");
          button.classList.remove("is-pending");
        }
      });
      return entry;
    } catch (e) {
      this.toast(`${label}: ${explain(e)}`, true);
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
      return null;
    }
  }

  showPending(entry) {
    this.txlog[entry.hash] = "pending";
    this.lastTx = entry.hash;
    const box = document.getElementById("pending");
    box.append(h("div", { class: "tx", "data-tx": entry.hash, "data-state": "pending", "data-kind": entry.kind },
      h("span", { class: "badge pending" }, "pending"), " ", entry.label));
  }

  showFinal(entry) {
    this.txlog[entry.hash] = entry.state;
    const row = document.querySelector(`#pending [data-tx="${entry.hash}"]`);
    if (!row) return;
    clear(row);
    row.dataset.state = entry.state;
    if (entry.state === "final") {
      row.append(h("span", { class: "badge ok" }, "final"), " ", entry.label);
      setTimeout(() => row.remove(), 4000);
    } else {
      const why = entry.result.code === "dropped" ? explain("dropped") : explain({ code: entry.result.code, message: entry.result.message });
      row.append(h("span", { class: "badge error" }, "failed"), ` ${entry.label}: ${why} `,
        h("button", { type: "button", "aria-label": "Dismiss", onclick: () => row.remove() }, "×"));
      this.toast(`${entry.label} failed: ${why}`, true);
    }
  }

  /** A committed tx changed a post: drop deleted posts from every list, redraw the rest. */
  postChanged({ what, post: id }) {
    for (const card of document.querySelectorAll(`article.post[data-post="${id}"]`)) {
      if (what === "delete" && !card.closest("[data-keep-deleted]")) card.remove();
      else refreshCard(this, card);
    }
    for (const box of document.querySelectorAll(`blockquote[data-quote="${id}"]`)) {
      if (what === "delete" || what === "edit") fillQuote(this, box, id);
    }
    this.main.dispatchEvent(new CustomEvent("post-changed", { detail: { what, post: id } }));
  }
}

const app = new App();
window.agora = app; // for the browser tests and the curious
app.start();
