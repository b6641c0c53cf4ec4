import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8Encode, utf8Decode, portable, pointer, headers, deliver } from "./hookgate.js";
import { mockGateway } from "./mock.js";

test("UTF-8 round-trips as Node's own codec does", () => {
  for (const s of ["", "plain", "héllo €", "𝄞 music", "日本語", "a\u0000b"]) {
    assert.deepEqual(utf8Encode(s), new TextEncoder().encode(s), s);
    assert.equal(utf8Decode(new TextEncoder().encode(s)), s);
  }
  assert.equal(utf8Decode(utf8Encode("\ud800")), "\ufffd", "a lone surrogate");
  assert.equal(utf8Decode(Uint8Array.from([0x41, 0xff, 0x42])), "A\ufffdB", "an invalid byte");
});

/** Runs `f` with Uint8Array's base64 built-ins as `fromBase64`/`toBase64` say: QuickJS-ng
 * has them, Node.js 20 does not (they are made from Buffer here), newer Node.js does. */
function withBase64(fromBase64, toBase64, f) {
  const saved = [Uint8Array.fromBase64, Uint8Array.prototype.toBase64];
  const set = (a, b) => {
    if (a) Uint8Array.fromBase64 = a;
    else delete Uint8Array.fromBase64;
    if (b) Uint8Array.prototype.toBase64 = b;
    else delete Uint8Array.prototype.toBase64;
  };
  set(fromBase64, toBase64);
  try {
    f();
  } finally {
    set(...saved);
  }
}

const bufferFromBase64 = (b64) => new Uint8Array(Buffer.from(b64, "base64"));
function bufferToBase64() {
  return Buffer.from(this.buffer, this.byteOffset, this.length).toString("base64");
}

/** Holds the sandbox's codec to Node's on large text, random bytes and malformed sequences. */
function portableAgreesWithNode() {
  let seed = 7;
  const rand = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const pieces = ["a", '{"k": 1}', "é", "€", "𝄞", "\ud800", "\udc00x", "日本"];
  for (let round = 0; round < 20; round++) {
    let s = round === 0 ? "plain ascii " : "";
    while (s.length < 70000) s += round === 0 ? "ascii" : pieces[rand(pieces.length)];
    assert.deepEqual(portable.utf8Encode(s), new TextEncoder().encode(s), `round ${round}`);
    assert.equal(portable.utf8Decode(new TextEncoder().encode(s)), s.toWellFormed(), `round ${round}`);
    const bytes = Uint8Array.from({ length: 20000 }, () => (rand(4) === 0 ? rand(256) : 0x61));
    assert.equal(portable.utf8Decode(bytes), new TextDecoder().decode(bytes), `bytes round ${round}`);
  }
  for (const bad of [[0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82, 0x41], [0xf0, 0x9f, 0x98], [0x41, 0x85]]) {
    const bytes = Uint8Array.from(bad);
    assert.equal(portable.utf8Decode(bytes), new TextDecoder().decode(bytes), JSON.stringify(bad));
  }
}

test("the sandbox's UTF-8 codec agrees with Node's, through base64 as in QuickJS-ng", () =>
  withBase64(bufferFromBase64, bufferToBase64, portableAgreesWithNode));

test("the sandbox's UTF-8 codec agrees with Node's without base64 built-ins too", () =>
  withBase64(undefined, undefined, portableAgreesWithNode));

test("JSON pointers read, set and remove, with ~0 and ~1 escapes", () => {
  const doc = { data: { "a/b": 1, list: [1, 2], "t~": true } };
  assert.equal(pointer.get(doc, "/data/a~1b"), 1);
  assert.equal(pointer.get(doc, "/data/t~0"), true);
  assert.equal(pointer.get(doc, "/data/none/deeper"), undefined);
  pointer.set(doc, "/data/new/field", "x");
  pointer.set(doc, "/data/list/-", 3);
  assert.deepEqual(doc.data.new, { field: "x" });
  assert.deepEqual(doc.data.list, [1, 2, 3]);
  assert.equal(pointer.remove(doc, "/data/list/0"), true);
  assert.equal(pointer.remove(doc, "/data/absent"), false);
  assert.deepEqual(doc.data.list, [2, 3]);
  assert.throws(() => pointer.get(doc, "data"), /must be empty or start with/);
});

test("headers compare names case-insensitively and refuse what the gateway refuses", () => {
  let h = headers.set([{ name: "X-A", value: "1" }], "x-a", "2");
  assert.deepEqual(h, [{ name: "x-a", value: "2" }]);
  assert.equal(headers.get(h, "X-A"), "2");
  assert.throws(() => deliver("x", [{ name: "x-a", value: "1\r\nx-b: 2" }]), /CR, LF/);
  assert.throws(() => headers.set(h, "bad name", "v"), /not a token/);
});

test("kv and http are refused unless granted, as in the gateway", () => {
  const denied = mockGateway({ grants: { kv: false } });
  const out = denied.run({ handle: (d, host) => (host.kv.get("k"), d) }, { data: {} });
  assert.deepEqual(out, { decision: "error", error: "kv is not granted to this plugin" });
  const gw = mockGateway({ grants: { http: ["https://api.example"] }, http: (req) => ({ body: { seen: req.url } }) });
  const ok = gw.run({ handle: (d, host) => d.setJson(host.http.get("https://api.example/x").json()) }, { data: {} });
  assert.deepEqual(ok.json, { seen: "https://api.example/x" });
  const bad = gw.run({ handle: (d, host) => (host.http.get("https://evil.example/"), d) }, { data: {} });
  assert.match(bad.error, /http to https:\/\/evil.example is not granted/);
});

test("a handler that returns nothing useful is reported as a plugin bug", () => {
  const out = mockGateway().run({ handle: () => 42 }, { data: {} });
  assert.match(out.error, /handle returned 42/);
});
