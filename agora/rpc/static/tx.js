// Transactions built and signed in the browser, byte for byte as the node encodes them
// (docs/blockchain.md): envelope = [chain_id, sender, nonce, kind, body_hash, fee, expiry],
// signed with Ed25519 over "agora-tx-v1\0" + envelope; tx = [envelope, signature, body];
// tx hash = sha256(envelope + signature). Bodies are the kinds' canonical arrays.

import { encode } from "./msgpack.js";
import { sign } from "./keys.js";
import { concat, hex, sha256, unhex, utf8 } from "./util.js";

const DOMAIN = utf8("agora-tx-v1\0");

// kind -> its body's fields, in order: [name, type]
//   str: msgpack str; text: a JS string sent as UTF-8 bin; key: 32 bytes (hex or bytes);
//   key?: key or null; bin: bytes (hex or Uint8Array); int: integer
const POST_REF = [["post", "key"]];
const TARGET = [["key", "bin"], ["handle", "str"]];
export const BODIES = {
  transfer: [["to", "key"], ["amount", "int"]],
  handle_register: [["handle", "str"]],
  handle_transfer: [["handle", "str"], ["to", "key"]],
  profile_set: [["display_name", "text"], ["bio", "text"], ["avatar_url", "text"]],
  post: [["text", "text"], ["reply_to", "key?"], ["quote_of", "key?"]],
  edit: [["post", "key"], ["text", "text"]],
  delete: POST_REF,
  repost: POST_REF,
  unrepost: POST_REF,
  react: [["post", "key"], ["reaction", "str"]],
  unreact: POST_REF,
  follow: TARGET,
  unfollow: TARGET,
  mute: TARGET,
  unmute: TARGET,
  block: TARGET,
  unblock: TARGET,
};

const bytesOf = (v, size) => (v instanceof Uint8Array ? v : unhex(v ?? "", size));

function fieldValue(type, v, name) {
  switch (type) {
    case "str":
      return String(v ?? "");
    case "text":
      return v instanceof Uint8Array ? v : utf8(String(v ?? ""));
    case "key":
      return bytesOf(v, 32);
    case "key?":
      return v === null || v === undefined || v === "" ? null : bytesOf(v, 32);
    case "bin":
      return bytesOf(v);
    case "int":
      return BigInt(v);
    default:
      throw new TypeError(`field ${name}: unknown type ${type}`);
  }
}

/** The canonical body bytes of `kind` from an object of its fields. */
export function encodeBody(kind, fields) {
  const spec = BODIES[kind];
  if (!spec) throw new TypeError(`unknown kind ${kind}`);
  return encode(spec.map(([name, type]) => fieldValue(type, fields[name], name)));
}

export function encodeEnvelope(env) {
  return encode([
    env.chain_id,
    bytesOf(env.sender, 32),
    BigInt(env.nonce),
    env.kind,
    bytesOf(env.body_hash, 32),
    BigInt(env.fee ?? 0),
    BigInt(env.expiry ?? 0),
  ]);
}

export function encodeTx(envelopeBytes, signature, body) {
  // [envelope, signature, body]: the envelope's bytes are already an encoded array.
  const head = encode([null, signature, body]); // 0x93, then nil as a placeholder
  return concat(head.subarray(0, 1), envelopeBytes, head.subarray(2));
}

function binLen(n) {
  return n + (n <= 0xff ? 2 : n <= 0xffff ? 3 : 5);
}

/** A signed tx: {kind, hash, bytes, envelope, signature, body}. */
export async function signTx(account, { chain_id, nonce, kind, body, fee = 0, expiry = 0, fee_per_byte = 0 }) {
  const sender = unhex(account.pub, 32);
  const body_hash = await sha256(body);
  let env = encodeEnvelope({ chain_id, sender, nonce, kind, body_hash, fee, expiry });
  if (fee_per_byte) {
    // the fee is part of the size it pays for: settle on a fixed point (as the CLI does)
    for (let i = 0; i < 3; i++) {
      const want = fee + fee_per_byte * (1 + env.length + 66 + binLen(body.length));
      env = encodeEnvelope({ chain_id, sender, nonce, kind, body_hash, fee: want, expiry });
    }
  }
  const signature = await sign(account, concat(DOMAIN, env));
  const hash = hex(await sha256(concat(env, signature)));
  return { kind, hash, envelope: env, signature, body, bytes: encodeTx(env, signature, body) };
}

export { hex, unhex };
