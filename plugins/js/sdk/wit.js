// The glue between a plugin module and the gateway: `component(plugin)` gives the `handler`
// and `validate` exports of hookgate:plugin's world. Only this file imports the WIT
// interfaces, so everything else in a plugin runs under Node.js in its unit tests.
//
//   import * as plugin from "./plugin.js";
//   import { component } from "../sdk/wit.js";
//   export const { handler, validate } = component(plugin);

import log from "hookgate:plugin/log@0.1.1";
import config from "hookgate:plugin/config@0.1.1";
import kv from "hookgate:plugin/kv@0.1.1";
import http from "hookgate:plugin/http@0.1.1";
import { Delivery } from "./hookgate.js";
import { makeHost } from "./host.js";
import { decision, problems, reason } from "./exports.js";

const host = makeHost({
  log: (level, message) => log.log(level, message),
  config: () => config.get(),
  kv: { get: (k) => kv.get(k), set: (k, v) => kv.set(k, v), delete: (k) => kv.delete(k) },
  http: { send: (req) => http.send(req) },
});

/** The world's exports for a module with `handle(delivery, host)` and, optionally,
 * `validate(config, host)`. */
export function component(plugin) {
  return {
    handler: {
      handle(input) {
        try {
          return decision(plugin.handle(new Delivery(input), host));
        } catch (e) {
          throw reason(e);
        }
      },
    },
    validate: {
      checkConfig(text) {
        if (typeof plugin.validate !== "function") return [];
        return problems(plugin.validate(JSON.parse(text), host));
      },
    },
  };
}
