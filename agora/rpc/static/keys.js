// Ed25519 keys that stay in the browser.
//
// A signing key is a non-extractable WebCrypto CryptoKey kept in IndexedDB: no script,
// not even ours, can read its bytes back. Because it can never be exported, the
// passphrase-encrypted backup (the CLI's keystore format, docs/social.md) is made at
// the moment the seed exists, and stored beside the key; exporting downloads that file.

import { AppError, b64url, concat, hex, unhex, utf8 } from "./util.js";

export const ITERATIONS = 600000;
const MIN_ITERATIONS = 1000;
const MAX_ITERATIONS = 10000000;
// PKCS #8 wrapping of a 32-byte Ed25519 seed (RFC 8410).
const PKCS8_PREFIX = unhex("302e020100300506032b657004220420");
const DB = "agora";
const STORE = "accounts";

// ---- IndexedDB -------------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE, { keyPath: "pub" });
      req.result.createObjectStore("meta");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new AppError("no_storage", "this browser cannot store keys (IndexedDB)"));
  });
}

async function tx(stores, mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(stores, mode);
      let out;
      Promise.resolve(fn(t)).then((v) => (out = v), reject);
      t.oncomplete = () => resolve(out);
      t.onerror = t.onabort = () => reject(t.error || new AppError("no_storage", "storage failed"));
    });
  } finally {
    db.close();
  }
}

const req = (r) => new Promise((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));

export async function listAccounts() {
  const all = await tx([STORE], "readonly", (t) => req(t.objectStore(STORE).getAll()));
  return all.sort((a, b) => a.created_ms - b.created_ms);
}

export async function activeAccount() {
  const pub = await tx(["meta"], "readonly", (t) => req(t.objectStore("meta").get("active")));
  const accounts = await listAccounts();
  return accounts.find((a) => a.pub === pub) || accounts[0] || null;
}

export function setActive(pub) {
  return tx(["meta"], "readwrite", (t) => req(t.objectStore("meta").put(pub, "active")));
}

export function forgetAccount(pub) {
  return tx([STORE], "readwrite", (t) => req(t.objectStore(STORE).delete(pub)));
}

async function store(record) {
  await tx([STORE], "readwrite", (t) => req(t.objectStore(STORE).put(record)));
  await setActive(record.pub);
  return record;
}

// ---- Ed25519 ---------------------------------------------------------------------------

function needCrypto() {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new AppError("no_webcrypto", "this page is not a secure context: open it over https or on 127.0.0.1 / localhost to use keys");
  }
}

/** The public key of a seed (imported once as an extractable key, then dropped). */
async function publicKeyOf(seed) {
  const k = await crypto.subtle.importKey("pkcs8", concat(PKCS8_PREFIX, seed), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", k);
  const x = Uint8Array.from(atob(jwk.x.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  jwk.d = "";
  return x;
}

function signingKey(seed, pub) {
  const jwk = { kty: "OKP", crv: "Ed25519", d: b64url(seed), x: b64url(pub) };
  return crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
}

export async function sign(account, message) {
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, account.key, message));
}

// ---- the keystore file (docs/social.md) ------------------------------------------------

async function aesKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", utf8(passphrase), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256);
  return crypto.subtle.importKey("raw", bits, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** A keystore document for `seed` (exactly what `agora account new` writes). */
export async function encryptKeystore(seed, pub, passphrase, iterations = ITERATIONS, salt = null, nonce = null) {
  needCrypto();
  salt = salt || crypto.getRandomValues(new Uint8Array(16));
  nonce = nonce || crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(passphrase, salt, iterations);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: pub, tagLength: 128 }, key, seed);
  return {
    version: 1,
    kdf: "pbkdf2-sha256",
    salt: hex(salt),
    iterations,
    cipher: "aes-256-gcm",
    nonce: hex(nonce),
    ciphertext: hex(new Uint8Array(ct)),
    pub_key: hex(pub),
  };
}

const bad = (msg) => new AppError("bad_keystore", `keystore: ${msg}`);

function field(doc, name, size) {
  try {
    return unhex(doc[name], size);
  } catch {
    throw bad(`${name} must be ${size} bytes of hex`);
  }
}

/** The seed and public key in a keystore document; `bad_keystore` or `wrong_passphrase`. */
export async function decryptKeystore(doc, passphrase) {
  needCrypto();
  if (!doc || typeof doc !== "object" || Array.isArray(doc) || doc.version !== 1) throw bad("not a version 1 keystore");
  if (doc.kdf !== "pbkdf2-sha256" || doc.cipher !== "aes-256-gcm") throw bad("unknown kdf or cipher");
  const it = doc.iterations;
  if (!Number.isInteger(it) || it < MIN_ITERATIONS || it > MAX_ITERATIONS) {
    throw bad(`iterations must be an integer ${MIN_ITERATIONS}..${MAX_ITERATIONS}`);
  }
  const salt = field(doc, "salt", 16), nonce = field(doc, "nonce", 12);
  const ct = field(doc, "ciphertext", 48), pub = field(doc, "pub_key", 32);
  let seed;
  try {
    const key = await aesKey(passphrase, salt, it);
    seed = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: pub, tagLength: 128 }, key, ct));
  } catch {
    throw new AppError("wrong_passphrase", "wrong passphrase (or a damaged keystore)");
  }
  if (hex(await publicKeyOf(seed)) !== hex(pub)) throw bad("the key does not match pub_key");
  return { seed, pub };
}

// ---- accounts --------------------------------------------------------------------------

async function keep(seed, pub, backup) {
  try {
    const key = await signingKey(seed, pub);
    return await store({ pub: hex(pub), key, backup, created_ms: Date.now() });
  } finally {
    seed.fill(0); // the only copy outside the non-extractable key and the encrypted backup
  }
}

/** A new account: a random seed, its encrypted backup, its non-extractable signing key. */
export async function createAccount(passphrase, iterations = ITERATIONS) {
  needCrypto();
  if (!passphrase) throw new AppError("no_passphrase", "choose a passphrase to protect the key backup");
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const pub = await publicKeyOf(seed);
  const backup = await encryptKeystore(seed, pub, passphrase, iterations);
  return keep(seed, pub, backup);
}

/** An account from a keystore file (the CLI's or a browser's export). */
export async function importKeystore(text, passphrase) {
  let doc;
  try {
    doc = typeof text === "string" ? JSON.parse(text) : text;
  } catch {
    throw bad("not JSON");
  }
  const { seed, pub } = await decryptKeystore(doc, passphrase);
  return keep(seed, pub, doc);
}

/** The account's backup as a keystore file's text (what `agora --keystore` reads). */
export function exportKeystore(account) {
  return JSON.stringify(account.backup, null, 2) + "\n";
}
