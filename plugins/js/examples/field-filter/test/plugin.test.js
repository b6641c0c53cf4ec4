import { test } from "node:test";
import assert from "node:assert/strict";
import { mockGateway } from "../../../sdk/mock.js";
import * as plugin from "../src/plugin.js";

const event = { type: "invoice.paid", data: { id: "in_1", amount: 4200, card: "4242424242424242", customer: { email: "a@b.example" } } };

test("only the kept fields reach the receiver", () => {
  const gw = mockGateway({ config: { keep: ["/data/id", "/data/amount", "/data/customer/email"] } });
  const out = gw.run(plugin, event);
  assert.equal(out.decision, "deliver");
  assert.deepEqual(out.json.data, { id: "in_1", amount: 4200, customer: { email: "a@b.example" } });
  assert.equal(out.json.type, "invoice.paid");
});

test("an event without a required field is dropped with the field named", () => {
  const gw = mockGateway({ config: { keep: ["/data/id"], require: ["/data/refund_id"] } });
  assert.deepEqual(gw.run(plugin, event), { decision: "drop", reason: "missing /data/refund_id" });
});

test("a config with a pointer outside /data is refused at load, by pointer", () => {
  const gw = mockGateway();
  assert.deepEqual(gw.validate(plugin, { keep: ["/id", "/data/x"] }), [{ pointer: "/keep/0", message: '"/id" is not a JSON pointer under /data' }]);
  assert.equal(gw.validate(plugin, { keep: [] })[0].pointer, "/keep");
});

test("a body that is not JSON is an error, not a crash", () => {
  const gw = mockGateway({ config: { keep: ["/data/id"] } });
  const d = plugin.handle;
  const out = gw.run({ handle: (del, host) => { del.body = new Uint8Array([1, 2]); return d(del, host); } }, event);
  assert.equal(out.decision, "error");
  assert.match(out.error, /not JSON/);
});
