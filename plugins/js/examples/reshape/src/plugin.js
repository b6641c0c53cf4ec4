// reshape: turns the gateway's envelope into the shape a receiver expects, so the receiver
// needs no adapter (a chat webhook, a partner's legacy API).
//
// config: {
//   "fields": { "/invoice": "/data/id", "/total/cents": "/data/amount", "/kind": "/type" },
//   "constants": { "/source": "hookgate" },
//   "header": "x-event-type"          // optional: the event type in this header
// }
// Each target pointer gets the value at its source pointer in the envelope (absent values are
// left out); constants are set as they are. Output is built fresh: nothing else leaks through.

import { checkHeader, pointer, problem } from "../../../sdk/hookgate.js";

export function handle(delivery, host) {
  const cfg = host.config();
  const doc = delivery.json();
  const out = {};
  for (const [target, source] of Object.entries(cfg.fields)) {
    const v = pointer.get(doc, source);
    if (v !== undefined) pointer.set(out, target, v);
  }
  for (const [target, value] of Object.entries(cfg.constants ?? {})) pointer.set(out, target, value);
  delivery.setJson(out).setHeader("content-type", "application/json");
  if (cfg.header) delivery.setHeader(cfg.header, delivery.eventType);
  return delivery;
}

export function validate(config) {
  if (config === null || typeof config !== "object") return [problem("", "expected an object {fields, constants?, header?}")];
  const problems = [];
  if (config.fields === null || typeof config.fields !== "object" || Array.isArray(config.fields)) {
    problems.push(problem("/fields", "expected an object of target pointer → source pointer"));
  } else {
    for (const [target, source] of Object.entries(config.fields)) {
      const at = "/fields/" + target.replace(/~/g, "~0").replace(/\//g, "~1");
      if (!target.startsWith("/")) problems.push(problem(at, `target ${JSON.stringify(target)} is not a JSON pointer`));
      if (typeof source !== "string" || !source.startsWith("/")) problems.push(problem(at, `source ${JSON.stringify(source)} is not a JSON pointer`));
    }
  }
  if (config.header !== undefined) {
    try {
      checkHeader(String(config.header), "");
    } catch (e) {
      problems.push(problem("/header", e.message));
    }
  }
  return problems;
}
