// What a handler may return, turned into the WIT `decision` (shared by `wit.js` and `mock.js`
// so tests see exactly what the gateway gets).

import { Delivery, checkHeader } from "./hookgate.js";

/** A handler's return value as the WIT `decision`: a `deliver(...)`/`drop(...)` result, or a
 * `Delivery` (sent as it is now). Anything else is a plugin bug, reported as such. */
export function decision(result) {
  if (result instanceof Delivery) return result.deliver();
  if (result && result.tag === "drop" && typeof result.val === "string") return result;
  if (result && result.tag === "deliver" && result.val && result.val.body instanceof Uint8Array) {
    for (const h of result.val.headers) checkHeader(h.name, h.value);
    return result;
  }
  throw new Error(`handle returned ${JSON.stringify(result)}: return deliver(...), drop(...) or the delivery`);
}

/** A thrown value as the error string the gateway records. */
export function reason(e) {
  return e instanceof Error ? e.message : String(e);
}

/** `validate`'s answer as a list of `{pointer, message}`. */
export function problems(list) {
  if (!list) return [];
  return list.map((p) => (typeof p === "string" ? { pointer: "", message: p } : { pointer: p.pointer ?? "", message: String(p.message) }));
}
