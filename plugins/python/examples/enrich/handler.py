"""enrich: adds what the gateway knows about a customer to each event, from the plugin's kv.

config: { "customer": "/data/customer_id", "default_tier": "free" }
- /data/customer_tier: the tier stored under kv key `tier:<customer>` (an operator, or another
  plugin, sets it), else `default_tier`.
- /data/delivery_number: how many deliveries this plugin has enriched for the customer (kept
  in kv under `count:<customer>`), and the same number in header x-delivery-number.
Needs `allow: { kv: true }`. An event without a customer id goes through unchanged.
"""

from hookgate import pointer, problem


def handle(delivery, host):
    cfg = host.config() or {}
    doc = delivery.json()
    customer = pointer.get(doc, cfg.get("customer", "/data/customer_id"))
    if customer is None:
        host.log.debug("no customer id; delivered unchanged")
        return delivery
    tier = host.kv.get_text(f"tier:{customer}") or cfg.get("default_tier", "free")
    count = (host.kv.get_json(f"count:{customer}") or 0) + 1
    host.kv.set_json(f"count:{customer}", count)
    pointer.set(doc, "/data/customer_tier", tier)
    pointer.set(doc, "/data/delivery_number", count)
    return delivery.set_header("x-delivery-number", str(count))


def validate(config, host):
    if config is None:
        return []
    if not isinstance(config, dict):
        return [problem("", "expected an object {customer?, default_tier?}")]
    found = []
    if not str(config.get("customer", "/")).startswith("/"):
        found.append(problem("/customer", "expected a JSON pointer, e.g. /data/customer_id"))
    if not isinstance(config.get("default_tier", ""), str):
        found.append(problem("/default_tier", "expected a string"))
    return found
