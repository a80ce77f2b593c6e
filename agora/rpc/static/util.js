// Bytes, hex, UTF-8 and SHA-256 helpers shared by the client's modules.

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function unhex(s, size) {
  if (typeof s !== "string" || !HEX.test(s)) throw new TypeError("not hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  if (size !== undefined && out.length !== size) throw new TypeError(`not ${size} bytes of hex`);
  return out;
}

export const utf8 = (s) => new TextEncoder().encode(s);

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromB64url(s) {
  const t = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(t, (c) => c.charCodeAt(0));
}

/** Code points, as the node counts a post's length (Python's len(str)). */
export const chars = (s) => [...s].length;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An error with a stable string code, like the node's (`data.code`). */
export class AppError extends Error {
  constructor(code, message, number = 0) {
    super(message);
    this.code = code;
    this.number = number;
  }
}
