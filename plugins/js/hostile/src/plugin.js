// A plugin that misbehaves on purpose, as its config says, so the tests can show the sandbox
// contains a JS guest exactly as it contains a Rust one. Never use it in a real config.
//
// config: { "do": "loop" | "memory" | "huge" | "http" | "throw", "mib": 64 }

export function handle(delivery, host) {
  const cfg = host.config() ?? {};
  switch (cfg.do) {
    case "loop":
      for (;;) {}
    case "memory": {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20));
    }
    case "huge":
      return { tag: "deliver", val: { body: new Uint8Array((cfg.mib ?? 64) << 20), headers: [] } };
    case "http":
      host.http.get("https://api.example.com/lookup");
      return delivery;
    case "throw":
      throw new Error("refused on purpose");
    default:
      return delivery;
  }
}
