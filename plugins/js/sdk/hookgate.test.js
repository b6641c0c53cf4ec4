import { test } from "node:test";
import assert from "node:assert/strict";
import { utf8Encode, utf8Decode, pointer, headers, deliver } from "./hookgate.js";
import { mockGateway } from "./mock.js";

test("UTF-8 round-trips as Node's own codec does", () => {
  for (const s of ["", "plain", "héllo €", "𝄞 music", "日本語", "a\u0000b"]) {
    assert.deepEqual(utf8Encode(s), new TextEncoder().encode(s), s);
    assert.equal(utf8Decode(new TextEncoder().encode(s)), s);
  }
  assert.equal(utf8Decode(utf8Encode("\ud800")), "\ufffd", "a lone surrogate");
  assert.equal(utf8Decode(Uint8Array.from([0x41, 0xff, 0x42])), "A\ufffdB", "an invalid byte");
});

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
