// The host object a handler gets (`handle(delivery, host)`), built over the four host
// interfaces. `wit.js` builds it over the gateway's imports; `mock.js` over in-memory fakes,
// so a plugin behaves the same in its unit tests as in the gateway.

import { toBytes, utf8Decode } from "./hookgate.js";

const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** `raw` = {log(level, msg), config() → text, kv: {get, set, delete}, http: {send}}, each as
 * the WIT interface has it (kv and http throw their error strings). */
export function makeHost(raw) {
  let parsed;
  const log = {};
  for (const level of LEVELS) log[level] = (message) => raw.log(level, String(message));
  return {
    log,
    /** The chain entry's `config`, parsed (null when absent). */
    config() {
      if (parsed === undefined) parsed = JSON.parse(raw.config());
      return parsed;
    },
    /** The chain entry's `config` as JSON text. */
    configText() {
      return raw.config();
    },
    kv: {
      /** Bytes under `key`, or null. Throws unless granted `allow: { kv: true }`. */
      get: (key) => {
        const v = raw.kv.get(key);
        return v === null || v === undefined ? null : toBytes(v);
      },
      /** Text under `key` (UTF-8), or null. */
      getText(key) {
        const v = this.get(key);
        return v === null ? null : utf8Decode(v);
      },
      /** JSON under `key`, parsed, or null. */
      getJson(key) {
        const v = this.getText(key);
        return v === null ? null : JSON.parse(v);
      },
      /** Stores bytes or a string (UTF-8) under `key`. */
      set: (key, value) => raw.kv.set(key, toBytes(value)),
      /** Stores `value` as JSON under `key`. */
      setJson: (key, value) => raw.kv.set(key, toBytes(JSON.stringify(value))),
      /** Removes `key`. */
      delete: (key) => raw.kv.delete(key),
    },
    http: {
      /** `{method: "get"|"post", url, headers?, body?}` → `{status, headers, body, text(), json()}`.
       * Throws unless the URL's origin is granted in `allow: { http: [...] }`. */
      send(req) {
        const res = raw.http.send({
          method: req.method ?? "get",
          url: req.url,
          headers: req.headers ?? [],
          body: req.body === undefined || req.body === null ? null : toBytes(req.body),
        });
        return response(res);
      },
      get(url, headers = []) {
        return this.send({ method: "get", url, headers });
      },
      post(url, body, headers = []) {
        return this.send({ method: "post", url, headers, body });
      },
      postJson(url, value, headers = []) {
        const h = [...headers, { name: "content-type", value: "application/json" }];
        return this.send({ method: "post", url, headers: h, body: JSON.stringify(value) });
      },
    },
  };
}

function response(res) {
  const body = toBytes(res.body);
  return {
    status: res.status,
    headers: res.headers,
    body,
    ok: res.status >= 200 && res.status < 300,
    text: () => utf8Decode(body),
    json: () => JSON.parse(utf8Decode(body)),
  };
}
