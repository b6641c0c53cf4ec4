// Unit tests against a local mock of the gateway: `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mockGateway } from "../sdk/mock.js";
import * as plugin from "../src/plugin.js";

test("an amount below the minimum is dropped", () => {
  const out = mockGateway({ config: { min_amount: 100 } }).run(plugin, { type: "invoice.paid", data: { amount: 5 } });
  assert.deepEqual(out, { decision: "drop", reason: "amount below 100" });
});

test("other events get a field and a header", () => {
  const out = mockGateway({ config: { min_amount: 100 } }).run(plugin, { type: "invoice.paid", data: { amount: 500 } });
  assert.equal(out.decision, "deliver");
  assert.equal(out.json.data.checked_by, "{{name}}");
  assert.deepEqual(out.headers, [{ name: "x-checked-by", value: "{{name}}" }]);
});

test("a non-numeric minimum is refused at load", () => {
  assert.deepEqual(mockGateway().validate(plugin, { min_amount: "5" }), [{ pointer: "/min_amount", message: "expected a number" }]);
});
