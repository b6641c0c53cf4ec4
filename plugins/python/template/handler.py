"""{{name}}: a Hookgate plugin. ``handle`` runs once per delivery, before the first attempt;
it returns the delivery (as edited), ``deliver(body, headers)`` or ``drop(reason)``. An
exception follows the endpoint's ``on_error`` policy. SDK reference: sdk/hookgate/."""

from hookgate import drop, problem


def handle(delivery, host):
    min_amount = (host.config() or {}).get("min_amount", 0)
    event = delivery.json()
    if (event.get("data") or {}).get("amount", 0) < min_amount:
        return drop(f"amount below {min_amount}")
    event["data"]["checked_by"] = "{{name}}"
    host.log.debug(f"passed {event['id']}")
    return delivery.set_header("x-checked-by", "{{name}}")


def validate(config, host):
    """Called when the gateway loads a config using this plugin: a bad config is refused with
    its file:line:column before any delivery runs."""
    if config is None:
        return []
    if not isinstance(config, dict):
        return [problem("", "expected an object {min_amount?}")]
    if not isinstance(config.get("min_amount", 0), (int, float)):
        return [problem("/min_amount", "expected a number")]
    return []
