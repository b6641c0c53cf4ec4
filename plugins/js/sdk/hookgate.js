// Hookgate plugin SDK for JavaScript: the part with no host behind it.
//
// Plain ES module: it runs inside the gateway's sandbox (QuickJS, through `wit.js`) and under
// Node.js in an author's unit tests (through `mock.js`), so it must not touch anything only
// one of them has. QuickJS has no TextEncoder/TextDecoder, hence the UTF-8 codec here.

// The codec runs on every delivery, so its common paths must be native code: QuickJS
// interprets a per-byte JavaScript loop at ~7 ns a step, which made a 64 KiB body cost more
// than the 100 ms deadline. Where TextEncoder/TextDecoder exist (Node.js) they are used.
// In the sandbox (QuickJS-ng, which has neither) bytes become a one-byte-per-char "binary"
// string through base64 (`toBase64`/`atob`, `btoa`/`fromBase64`), and UTF-8 is turned into
// text and back by `escape`/`decodeURIComponent` and `encodeURIComponent`/`unescape`. Only
// malformed input (invalid bytes, a lone surrogate) takes the careful code-point loops.
// Measured in the sandbox on a 64 KiB ASCII body: decode 1.3 ms, encode 1.4 ms; a JSON round
// trip of it (decode, parse, stringify, encode) 5.8 ms, against 37 ms with per-byte loops.

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8Encode(text) {
  if (typeof TextEncoder === "function") return new TextEncoder().encode(text);
  return portable.utf8Encode(text);
}

/** The string UTF-8 `bytes` spell, as TextDecoder reads them (malformed parts become U+FFFD). */
export function utf8Decode(bytes) {
  if (typeof TextDecoder === "function") return new TextDecoder().decode(bytes);
  return portable.utf8Decode(bytes);
}

/** The codec without TextEncoder/TextDecoder: what runs in the sandbox. Exported so the
 * unit tests can hold it to Node's own codec. */
export const portable = {
  utf8Encode(text) {
    let binary;
    try {
      binary = unescape(encodeURIComponent(text));
    } catch {
      return utf8EncodeCareful(text); // a lone surrogate
    }
    return binaryToBytes(binary);
  },
  utf8Decode(bytes) {
    const binary = bytesToBinary(bytes);
    if (!NON_ASCII.test(binary)) return binary;
    try {
      return decodeURIComponent(escape(binary));
    } catch {
      return utf8DecodeCareful(bytes); // not valid UTF-8
    }
  },
};

const NON_ASCII = /[\x80-\xff]/;

/** Chars per `String.fromCharCode.apply` (well under any engine's argument limit). */
const CHUNK = 8192;

function hasBase64() {
  return typeof Uint8Array.fromBase64 === "function" && typeof Uint8Array.prototype.toBase64 === "function" && typeof atob === "function" && typeof btoa === "function";
}

/** A string with one char (0–255) per byte. */
function bytesToBinary(bytes) {
  if (hasBase64()) return atob(bytes.toBase64());
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  return binary;
}

/** The bytes of a binary string (every char 0–255). */
function binaryToBytes(binary) {
  if (hasBase64()) return Uint8Array.fromBase64(btoa(binary));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function utf8EncodeCareful(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

// The WHATWG decoder (what TextDecoder does): each maximal invalid subpart is one U+FFFD.
function utf8DecodeCareful(bytes) {
  let out = "";
  let units = [];
  let cp = 0, need = 0, lower = 0x80, upper = 0xbf;
  const emit = (c) => {
    if (c >= 0x10000) units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 1023));
    else units.push(c);
    if (units.length > CHUNK) {
      out += String.fromCharCode.apply(null, units);
      units = [];
    }
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (need === 0) {
      if (b < 0x80) emit(b);
      else if (b >= 0xc2 && b <= 0xdf) (need = 1), (cp = b & 31);
      else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 15;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 7;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
      } else emit(0xfffd);
      continue;
    }
    if (b < lower || b > upper) {
      emit(0xfffd);
      (need = 0), (lower = 0x80), (upper = 0xbf);
      i--; // this byte starts over
      continue;
    }
    (lower = 0x80), (upper = 0xbf);
    cp = (cp << 6) | (b & 63);
    if (--need === 0) emit(cp);
  }
  if (need > 0) emit(0xfffd);
  out += String.fromCharCode.apply(null, units);
  return out;
}

/** Bytes of a body given as bytes, a string (UTF-8) or anything else (as JSON). */
export function toBytes(body) {
  if (body instanceof Uint8Array) return body;
  if (Array.isArray(body) && body.every((b) => typeof b === "number")) return Uint8Array.from(body);
  if (typeof body === "string") return utf8Encode(body);
  return utf8Encode(JSON.stringify(body));
}

/** Header lists (`[{name, value}]`): names compare case-insensitively. */
export const headers = {
  /** The first value of `name`, or null. */
  get(list, name) {
    const n = name.toLowerCase();
    const h = list.find((x) => x.name.toLowerCase() === n);
    return h ? h.value : null;
  },
  /** A copy of `list` with `name` set to `value` (replacing every earlier value). */
  set(list, name, value) {
    checkHeader(name, value);
    return [...headers.remove(list, name), { name, value: String(value) }];
  },
  /** A copy of `list` without `name`. */
  remove(list, name) {
    const n = name.toLowerCase();
    return list.filter((x) => x.name.toLowerCase() !== n);
  },
};

/** Throws the gateway's own reason for a header it would refuse, before the gateway does. */
export function checkHeader(name, value) {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new Error(`header name ${JSON.stringify(name)} is not a token`);
  if (/[\r\n\0]/.test(String(value))) throw new Error(`header ${name}: value contains CR, LF or NUL`);
}

/** JSON Pointer (RFC 6901) reads and edits on parsed JSON. */
export const pointer = {
  /** The pointer's reference tokens (`/a~1b/0` → `["a/b", "0"]`). */
  tokens(ptr) {
    if (ptr === "") return [];
    if (!ptr.startsWith("/")) throw new Error(`JSON pointer ${JSON.stringify(ptr)} must be empty or start with "/"`);
    return ptr.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  },
  /** The value at `ptr`, or undefined. */
  get(doc, ptr) {
    let cur = doc;
    for (const t of pointer.tokens(ptr)) {
      if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, t)) return undefined;
      cur = cur[t];
    }
    return cur;
  },
  /** Sets `ptr` to `value`, creating objects on the way; `-` appends to an array. */
  set(doc, ptr, value) {
    const ts = pointer.tokens(ptr);
    if (ts.length === 0) throw new Error("cannot set the whole document through a pointer");
    let cur = doc;
    for (const t of ts.slice(0, -1)) {
      if (cur[t] === null || typeof cur[t] !== "object") cur[t] = {};
      cur = cur[t];
    }
    const last = ts[ts.length - 1];
    if (Array.isArray(cur) && last === "-") cur.push(value);
    else cur[last] = value;
    return doc;
  },
  /** Removes `ptr`; true when something was there. */
  remove(doc, ptr) {
    const ts = pointer.tokens(ptr);
    if (ts.length === 0) return false;
    const parent = pointer.get(doc, "/" + ts.slice(0, -1).map(escapeToken).join("/"));
    const last = ts[ts.length - 1];
    if (parent === null || typeof parent !== "object" || !Object.prototype.hasOwnProperty.call(parent, last)) return false;
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
    return true;
  },
};

function escapeToken(token) {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** One delivery as a handler sees it: the gateway's record plus parsing helpers. */
export class Delivery {
  /** `raw` is the WIT `delivery` record: {id, event, endpoint, body, headers}. */
  constructor(raw) {
    this.id = raw.id;
    this.event = raw.event;
    this.endpoint = raw.endpoint;
    this.body = raw.body instanceof Uint8Array ? raw.body : Uint8Array.from(raw.body);
    this.headers = raw.headers.map((h) => ({ name: h.name, value: h.value }));
    this._json = undefined;
  }
  /** The event type, e.g. `invoice.paid`. */
  get eventType() {
    return this.event.eventType;
  }
  /** The body as text (UTF-8). */
  text() {
    return utf8Decode(this.body);
  }
  /** The body parsed as JSON (parsed once; edits to the returned value persist). Throws a
   * clear message when the body is not JSON. */
  json() {
    if (this._json === undefined) {
      try {
        this._json = JSON.parse(this.text());
      } catch (e) {
        throw new Error(`the body is not JSON: ${e.message}`);
      }
    }
    return this._json;
  }
  /** Replaces the JSON this delivery will send with `value`. */
  setJson(value) {
    this._json = value;
    return this;
  }
  /** The first value of header `name`, or null. */
  header(name) {
    return headers.get(this.headers, name);
  }
  /** Sets header `name` on what will be sent. */
  setHeader(name, value) {
    this.headers = headers.set(this.headers, name, value);
    return this;
  }
  /** Removes header `name` from what will be sent. */
  removeHeader(name) {
    this.headers = headers.remove(this.headers, name);
    return this;
  }
  /** Send this delivery: its JSON (as edited through `json()`) or its body, and its headers. */
  deliver() {
    return deliver(this._json !== undefined ? JSON.stringify(this._json) : this.body, this.headers);
  }
}

/** Send `body` (bytes, a string, or a value sent as JSON) with `headers`. */
export function deliver(body, hdrs = []) {
  for (const h of hdrs) checkHeader(h.name, h.value);
  return { tag: "deliver", val: { body: toBytes(body), headers: hdrs } };
}

/** Do not send; the delivery becomes `filtered` with `reason`. */
export function drop(reason) {
  return { tag: "drop", val: String(reason) };
}

/** A problem in a chain entry's config, for `validate`: where (a JSON pointer) and what. */
export function problem(ptr, message) {
  return { pointer: ptr, message };
}
