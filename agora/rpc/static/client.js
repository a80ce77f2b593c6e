// The client's session with its node: the account, the tx queue, pending txs until
// final, and live changes to posts (edits, deletes, counts) read from new blocks.

import { activeAccount } from "./keys.js";
import { Live, Rpc } from "./rpc.js";
import { encodeBody, signTx } from "./tx.js";
import { AppError, hex, sleep, unhex } from "./util.js";

const POLL_MS = 1500;
const DROP_AFTER_MS = 60000;
const REF_KINDS = new Set(["delete", "edit", "react", "unreact", "repost", "unrepost"]);

/** Post ids a committed tx changed: [kind, post id] pairs (from its body bytes, in hex). */
export function touched(kind, bodyHex) {
  if (!bodyHex) return [];
  if (REF_KINDS.has(kind)) {
    // [post(32), ...]: fixarray, bin8 of 32
    return bodyHex.slice(2, 6) === "c420" ? [[kind, bodyHex.slice(6, 70)]] : [];
  }
  if (kind !== "post") return [];
  // [text, reply_to | nil, quote_of | nil]
  const b = unhex(bodyHex);
  let at = 1;
  const t = b[at];
  const n = t === 0xc4 ? b[at + 1] : t === 0xc5 ? (b[at + 1] << 8) | b[at + 2] : (b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) | b[at + 4];
  at += (t === 0xc4 ? 2 : t === 0xc5 ? 3 : 5) + n;
  const out = [];
  for (const what of ["reply", "quote"]) {
    if (b[at] === 0xc4) {
      out.push([what, bodyHex.slice(2 * (at + 2), 2 * (at + 34))]);
      at += 34;
    } else at += 1;
  }
  return out;
}

export class Client extends EventTarget {
  constructor(base) {
    super();
    this.base = base;
    this.rpc = new Rpc(base);
    this.live = new Live(base, (s) => this.emit("live", { status: s }));
    this.account = null;
    this.me = null; // social_getAccount of the account
    this.info = null;
    this.pending = new Map(); // hash -> entry
    this.queue = Promise.resolve();
    this.faucet = null;
    this.blocks = this.live.subscribe("chain_subscribeBlocks", {}, (b) => this.onBlock(b));
    this.poller = setInterval(() => this.poll(), POLL_MS);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async load() {
    this.info = await this.rpc.call("social_getInfo");
    this.account = await activeAccount();
    await this.refreshMe();
  }

  async refreshMe() {
    this.me = this.account ? await this.rpc.call("social_getAccount", { account: this.account.pub }) : null;
    this.emit("me", this.me);
    return this.me;
  }

  async hasFaucet() {
    if (this.faucet === null) {
      const doc = await this.rpc.call("rpc_discover");
      this.faucet = doc.methods.some((m) => m.name === "dev_faucet");
    }
    return this.faucet;
  }

  async fund() {
    if (!this.account) throw new AppError("no_account", "no account");
    const res = await this.rpc.call("dev_faucet", { address: this.account.pub });
    return this.track({ hash: res.hash, kind: "transfer", label: `Faucet: ${res.amount} tokens` });
  }

  /** Sign and submit `kind` with its body fields; resolves with the pending entry once the
   * node took it (or rejects with the node's reason). The entry's `final` promise resolves
   * with the tx result once it is in a block. One tx at a time, so nonces follow. */
  send(kind, fields, label = kind) {
    const run = async () => {
      if (!this.account) throw new AppError("no_account", "no account");
      const info = this.info;
      const acct = await this.rpc.call("account_get", { address: this.account.pub });
      const extra = kind === "handle_register" ? info.handle_fee : 0;
      const tx = await signTx(this.account, {
        chain_id: info.chain_id,
        nonce: acct.next_nonce,
        kind,
        body: encodeBody(kind, fields),
        fee: info.min_fee + extra,
        fee_per_byte: info.fee_per_byte,
      });
      await this.rpc.call("tx_submit", { tx: hex(tx.bytes) });
      return this.track({ hash: tx.hash, kind, label, fields });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  track({ hash, kind, label, fields = {} }) {
    const entry = { hash, kind, label, fields, state: "pending", since: Date.now(), result: null };
    entry.final = new Promise((resolve) => (entry.resolve = resolve));
    this.pending.set(hash, entry);
    this.emit("pending", entry);
    return entry;
  }

  finish(entry, result) {
    if (entry.state !== "pending") return;
    entry.result = result;
    entry.state = result.code === "ok" ? "final" : "failed";
    this.pending.delete(entry.hash);
    entry.resolve(result);
    this.emit("final", entry);
    if (entry.state === "final" && ["transfer", "handle_register", "profile_set"].includes(entry.kind)) {
      this.refreshMe().catch(() => {});
    }
  }

  async check(entry) {
    try {
      const res = await this.rpc.call("social_getTxResult", { hash: entry.hash });
      this.finish(entry, res);
    } catch (e) {
      if (e.code !== "not_found" || Date.now() - entry.since < DROP_AFTER_MS) return;
      try {
        await this.rpc.call("tx_get", { hash: entry.hash });
      } catch (e2) {
        // neither in a block nor waiting in the node's mempool: it will never be final
        if (e2.data && e2.data.pending === false) this.finish(entry, { code: "dropped", message: "not included" });
      }
    }
  }

  poll() {
    for (const entry of [...this.pending.values()]) {
      if (Date.now() - entry.since > POLL_MS) this.check(entry);
    }
  }

  async onBlock(block) {
    this.emit("block", block);
    if (!block.tx_hashes || !block.tx_hashes.length) return;
    for (const h of block.tx_hashes) {
      const entry = this.pending.get(h);
      if (entry) this.check(entry);
    }
    let full;
    try {
      full = await this.rpc.call("chain_getBlock", { height: block.height });
    } catch {
      return;
    }
    for (const tx of full.txs) {
      if (tx.code !== "ok") continue;
      for (const [what, post] of touched(tx.kind, tx.body)) {
        this.emit("post-changed", { what, post, by: tx.sender });
      }
    }
  }

  close() {
    clearInterval(this.poller);
    this.live.close();
  }
}

