// Canonical msgpack for exactly what tx envelopes and bodies use: nil, bool, int, str,
// bin and array. Integers take their shortest form, as msgspec (the node) writes them,
// so the bytes a browser signs are the bytes the node re-encodes when it checks them.

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);

class Writer {
  constructor() {
    this.buf = new Uint8Array(64);
    this.len = 0;
  }
  room(n) {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b) {
    this.room(1);
    this.buf[this.len++] = b;
  }
  uint(v, size) {
    // big-endian, `size` bytes, from a BigInt
    this.room(size);
    for (let i = size - 1; i >= 0; i--) {
      this.buf[this.len + i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.len += size;
  }
  bytes(b) {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  head(n, fix, fixMax, c8, c16, c32) {
    if (fix !== null && n <= fixMax) this.byte(fix | n);
    else if (c8 !== null && n <= 0xff) (this.byte(c8), this.uint(BigInt(n), 1));
    else if (n <= 0xffff) (this.byte(c16), this.uint(BigInt(n), 2));
    else if (n <= 0xffffffff) (this.byte(c32), this.uint(BigInt(n), 4));
    else throw new RangeError("msgpack: too long");
  }
  int(v) {
    v = BigInt(v);
    if (v >= 0n) {
      if (v > MAX_U64) throw new RangeError("msgpack: integer too large");
      if (v < 128n) this.byte(Number(v));
      else if (v <= 0xffn) (this.byte(0xcc), this.uint(v, 1));
      else if (v <= 0xffffn) (this.byte(0xcd), this.uint(v, 2));
      else if (v <= 0xffffffffn) (this.byte(0xce), this.uint(v, 4));
      else (this.byte(0xcf), this.uint(v, 8));
      return;
    }
    if (v < MIN_I64) throw new RangeError("msgpack: integer too small");
    if (v >= -32n) this.byte(Number(v & 0xffn));
    else if (v >= -128n) (this.byte(0xd0), this.uint(v & 0xffn, 1));
    else if (v >= -32768n) (this.byte(0xd1), this.uint(v & 0xffffn, 2));
    else if (v >= -(1n << 31n)) (this.byte(0xd2), this.uint(v & 0xffffffffn, 4));
    else (this.byte(0xd3), this.uint(v & MAX_U64, 8));
  }
  value(v) {
    if (v === null || v === undefined) this.byte(0xc0);
    else if (v === false) this.byte(0xc2);
    else if (v === true) this.byte(0xc3);
    else if (typeof v === "bigint") this.int(v);
    else if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new TypeError("msgpack: only safe integers");
      this.int(v);
    } else if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      this.head(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      this.bytes(b);
    } else if (v instanceof Uint8Array) {
      this.head(v.length, null, 0, 0xc4, 0xc5, 0xc6);
      this.bytes(v);
    } else if (Array.isArray(v)) {
      this.head(v.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const x of v) this.value(x);
    } else throw new TypeError(`msgpack: cannot encode ${typeof v}`);
  }
}

/** The canonical msgpack bytes of `value` (null, boolean, integer, string, Uint8Array, array). */
export function encode(value) {
  const w = new Writer();
  w.value(value);
  return w.buf.slice(0, w.len);
}
