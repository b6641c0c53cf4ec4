import { test } from "node:test";
import assert from "node:assert/strict";
import { mockGateway } from "../../../sdk/mock.js";
import * as plugin from "../src/plugin.js";

const config = {
  fields: { "/invoice": "/data/id", "/total/cents": "/data/amount", "/kind": "/type", "/missing": "/data/nope" },
  constants: { "/source": "hookgate" },
  header: "x-event-type",
};
const event = { type: "invoice.paid", data: { id: "in_1", amount: 4200, secret: "s" } };

test("the receiver gets its own shape and nothing else", () => {
  const out = mockGateway({ config }).run(plugin, event);
  assert.equal(out.decision, "deliver");
  assert.deepEqual(out.json, { invoice: "in_1", total: { cents: 4200 }, kind: "invoice.paid", source: "hookgate" });
});

test("the event type goes in the configured header", () => {
  const out = mockGateway({ config }).run(plugin, event, [{ name: "x-team", value: "billing" }]);
  assert.deepEqual(out.headers, [
    { name: "x-team", value: "billing" },
    { name: "content-type", value: "application/json" },
    { name: "x-event-type", value: "invoice.paid" },
  ]);
});

test("a config with a bad pointer or header is refused by pointer", () => {
  const problems = mockGateway().validate(plugin, { fields: { "/a": "data/id" }, header: "bad header" });
  assert.deepEqual(problems.map((p) => p.pointer), ["/fields/~1a", "/header"]);
});
