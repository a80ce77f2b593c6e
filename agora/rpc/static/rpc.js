// JSON-RPC to the node: calls over fetch, and a WebSocket whose subscriptions resume
// from their last cursor after a reconnect (the node guarantees no gap, no duplicate).

import { AppError, sleep } from "./util.js";

export class RpcError extends AppError {
  constructor(error) {
    const data = error.data || {};
    super(data.code || "rpc_error", error.message || "error", error.code || 0);
    this.data = data;
  }
}

export class Rpc {
  constructor(base) {
    this.base = base.replace(/\/+$/, "");
    this.ids = 0;
  }

  async call(method, params) {
    const body = { jsonrpc: "2.0", id: ++this.ids, method };
    if (params !== undefined) body.params = params;
    let resp;
    try {
      resp = await fetch(this.base + "/rpc", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      throw new AppError("unreachable", `cannot reach the node at ${this.base}`);
    }
    if (!resp.ok) throw new AppError("http_error", `the node answered HTTP ${resp.status}`);
    const doc = await resp.json();
    if (doc.error) throw new RpcError(doc.error);
    return doc.result;
  }
}

/** One WebSocket, reopened with a growing delay; every subscription is made again with
 * the cursor of the last item it delivered. */
export class Live {
  constructor(base, onStatus = () => {}) {
    this.url = base.replace(/^http/, "ws").replace(/\/+$/, "") + "/ws";
    this.onStatus = onStatus;
    this.subs = new Set();
    this.pending = new Map(); // id -> {resolve, reject}
    this.bySid = new Map();
    this.ids = 0;
    this.ws = null;
    this.closed = false;
    this.delay = 250;
    this.open();
  }

  open() {
    if (this.closed) return;
    this.onStatus("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 250;
      this.onStatus("live");
      for (const sub of this.subs) this.start(sub);
    };
    ws.onmessage = (ev) => this.message(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.bySid.clear();
      for (const { reject } of this.pending.values()) reject(new AppError("disconnected", "connection lost"));
      this.pending.clear();
      if (this.closed) return;
      this.onStatus("reconnecting");
      sleep(this.delay).then(() => this.open());
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }

  message(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      return;
    }
    for (const msg of Array.isArray(doc) ? doc : [doc]) {
      if (msg.method === "subscription" && msg.params) {
        const sub = this.bySid.get(msg.params.subscription);
        if (!sub) continue;
        if (msg.params.error) {
          // the node ended it (its source failed): try again from the same cursor later
          this.bySid.delete(msg.params.subscription);
          sub.sid = null;
          setTimeout(() => this.subs.has(sub) && this.ws && this.ws.readyState === 1 && this.start(sub), 2000);
          continue;
        }
        const item = msg.params.result;
        if (item && item.cursor !== undefined && item.cursor !== null) sub.cursor = item.cursor;
        try {
          sub.onItem(item);
        } catch (e) {
          console.error(e);
        }
      } else if (msg.id !== undefined && this.pending.has(msg.id)) {
        const { resolve, reject } = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        msg.error ? reject(new RpcError(msg.error)) : resolve(msg.result);
      }
    }
  }

  call(method, params) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return Promise.reject(new AppError("disconnected", "not connected"));
    const id = ++this.ids;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  async start(sub) {
    const params = { ...sub.params };
    if (sub.cursor !== null && sub.cursor !== undefined) params.cursor = sub.cursor;
    try {
      const sid = await this.call(sub.method, params);
      if (!this.subs.has(sub)) {
        this.call(sub.unsubscribe, [sid]).catch(() => {});
        return;
      }
      sub.sid = sid;
      this.bySid.set(sid, sub);
      sub.ready();
    } catch (e) {
      if (e.code !== "disconnected") console.warn("subscribe failed", sub.method, e.message);
    }
  }

  /** Items after `cursor` (null: from now on), and every later one, across reconnects. */
  subscribe(method, params, onItem, cursor = null) {
    const area = method.split("_")[0];
    const sub = { method, params, onItem, cursor, sid: null, unsubscribe: `${area}_unsubscribe` };
    const ready = new Promise((resolve) => (sub.ready = resolve));
    this.subs.add(sub);
    if (this.ws && this.ws.readyState === 1) this.start(sub);
    return {
      /** Resolves once the node has the subscription (or after `ms`, whichever is first). */
      ready: (ms = 3000) => Promise.race([ready, sleep(ms)]),
      /** Where to resume after a reconnect if no item came yet (a query page's cursor). */
      resumeFrom: (c) => {
        if (sub.cursor === null || sub.cursor === undefined) sub.cursor = c;
      },
      close: () => {
        this.subs.delete(sub);
        if (sub.sid) {
          this.bySid.delete(sub.sid);
          this.call(sub.unsubscribe, [sub.sid]).catch(() => {});
        }
      },
    };
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
