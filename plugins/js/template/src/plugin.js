// {{name}}: a Hookgate plugin. `handle` runs once per delivery, before the first attempt; it
// returns the delivery (as edited), `deliver(body, headers)` or `drop(reason)`. A thrown error
// follows the endpoint's `on_error` policy. SDK reference: sdk/hookgate.d.ts.

import { drop, problem } from "../sdk/hookgate.js";

export function handle(delivery, host) {
  const { min_amount = 0 } = host.config() ?? {};
  const event = delivery.json();
  if ((event.data?.amount ?? 0) < min_amount) return drop(`amount below ${min_amount}`);
  event.data.checked_by = "{{name}}";
  host.log.debug(`passed ${event.id}`);
  return delivery.setHeader("x-checked-by", "{{name}}");
}

// Called when the gateway loads a config using this plugin: a bad config is refused with its
// file:line:column before any delivery runs.
export function validate(config) {
  if (config === null) return [];
  if (typeof config !== "object" || Array.isArray(config)) return [problem("", "expected an object {min_amount?}")];
  if (config.min_amount !== undefined && typeof config.min_amount !== "number") {
    return [problem("/min_amount", "expected a number")];
  }
  return [];
}
