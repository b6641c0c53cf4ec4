// A local stand-in for the gateway, for a plugin's unit tests under Node.js (`node --test`):
// the same host object and the same return-value checks as in the sandbox, over in-memory
// kv, a config you pass, a log you can read back and an `http` you answer yourself.
//
//   const gw = mockGateway({ config: { min: 10 } });
//   const out = gw.run(plugin, { type: "invoice.paid", data: { amount: 50 } });
//   assert.equal(out.decision, "deliver");

import { Delivery, utf8Decode, utf8Encode } from "./hookgate.js";
import { makeHost } from "./host.js";
import { decision, problems, reason } from "./exports.js";

/** `opts`: {config, kv: {key: value}, grants: {kv: bool, http: [origins]}, http(req) → res}. */
export function mockGateway(opts = {}) {
  const grants = { kv: true, http: [], ...(opts.grants ?? {}) };
  const store = new Map(Object.entries(opts.kv ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  const logs = [];
  const configText = JSON.stringify(opts.config ?? null);
  const deny = (what) => {
    throw `${what} is not granted to this plugin`;
  };
  const host = makeHost({
    log: (level, message) => logs.push({ level, message }),
    config: () => configText,
    kv: {
      get: (k) => (grants.kv ? (store.has(k) ? utf8Encode(store.get(k)) : null) : deny("kv")),
      set: (k, v) => (grants.kv ? void store.set(k, utf8Decode(v)) : deny("kv")),
      delete: (k) => (grants.kv ? void store.delete(k) : deny("kv")),
    },
    http: {
      send(req) {
        const origin = new URL(req.url).origin;
        if (!grants.http.includes(origin)) deny(`http to ${origin}`);
        if (!opts.http) throw `no http answer set up for ${req.url}`;
        const res = opts.http({ ...req, body: req.body ? utf8Decode(req.body) : null });
        return { status: res.status ?? 200, headers: res.headers ?? [], body: utf8Encode(typeof res.body === "string" ? res.body : JSON.stringify(res.body ?? "")) };
      },
    },
  });
  return {
    logs,
    /** kv as it is now (values as text). */
    kv: store,
    /** Runs `plugin.handle` on an event as published ({type, data, id?, tenant?}) and returns
     * {decision: "deliver"|"drop"|"error", body, json, headers, reason, error}. */
    run(plugin, event, headers = []) {
      const raw = deliveryFor(event, headers);
      try {
        const d = decision(plugin.handle(new Delivery(raw), host));
        if (d.tag === "drop") return { decision: "drop", reason: d.val };
        const text = utf8Decode(d.val.body);
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        return { decision: "deliver", body: text, json, headers: d.val.headers };
      } catch (e) {
        return { decision: "error", error: reason(e) };
      }
    },
    /** Runs `plugin.validate` on `config`: the problems the gateway would refuse it with. */
    validate(plugin, config) {
      return typeof plugin.validate === "function" ? problems(plugin.validate(config, host)) : [];
    },
  };
}

/** The WIT delivery the gateway would hand a plugin for `event` (the JSON envelope body). */
export function deliveryFor(event, headers = []) {
  const id = event.id ?? "evt_test";
  const type = event.type ?? "test.event";
  const timestamp = event.timestamp ?? "2026-01-01T00:00:00Z";
  const body = JSON.stringify({ id, type, timestamp, data: event.data ?? null });
  return {
    id: "del_test",
    event: { id, eventType: type, tenant: event.tenant ?? "default", timestamp },
    endpoint: { id: "test", url: "https://receiver.example/hook" },
    body: utf8Encode(body),
    headers,
  };
}
