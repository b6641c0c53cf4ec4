// field-filter: sends a receiver only the fields it should see, and drops events that lack
// the ones it needs.
//
// config: { "keep": ["/data/id", "/data/amount"], "require": ["/data/id"] }
// - keep: JSON pointers into the envelope; everything else under /data is cut (the envelope's
//   id, type and timestamp always stay).
// - require: pointers that must be present, else the delivery is dropped with a reason.

import { drop, pointer, problem } from "../../../sdk/hookgate.js";

export function handle(delivery, host) {
  const cfg = host.config();
  const doc = delivery.json();
  for (const p of cfg.require ?? []) {
    if (pointer.get(doc, p) === undefined) return drop(`missing ${p}`);
  }
  const data = {};
  const out = { id: doc.id, type: doc.type, timestamp: doc.timestamp, data };
  for (const p of cfg.keep) {
    const v = pointer.get(doc, p);
    if (v !== undefined && p.startsWith("/data/")) pointer.set(out, p, v);
  }
  host.log.debug(`kept ${cfg.keep.length} field(s)`);
  return delivery.setJson(out);
}

export function validate(config) {
  const problems = [];
  if (config === null || typeof config !== "object") return [problem("", "expected an object {keep, require?}")];
  if (!Array.isArray(config.keep) || config.keep.length === 0) problems.push(problem("/keep", "expected a non-empty list of JSON pointers under /data"));
  for (const [key, list] of [["keep", config.keep ?? []], ["require", config.require ?? []]]) {
    (Array.isArray(list) ? list : []).forEach((p, i) => {
      if (typeof p !== "string" || !p.startsWith("/data/")) problems.push(problem(`/${key}/${i}`, `${JSON.stringify(p)} is not a JSON pointer under /data`));
    });
  }
  return problems;
}
