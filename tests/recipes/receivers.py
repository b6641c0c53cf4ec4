#!/usr/bin/env python3
"""Receivers written the way each sender's documentation (shared/seeds/) tells its users to write
them, used by tests/recipes.rs to show a Hookgate recipe passes them unchanged.

stdin: JSON {"sender", "secret", "headers": {name: value}, "body_b64"}
prints "ok" and exits 0 when every documented check passes; prints the failed check, exits 1.
"""
import base64, hashlib, hmac, json, sys, time

req = json.load(sys.stdin)
secret = req["secret"]
headers = {k.lower(): v for k, v in req["headers"].items()}
raw_body = base64.b64decode(req["body_b64"])


def check(cond, what):
    if not cond:
        print(f"failed: {what}")
        sys.exit(1)


def verify_mobieus_signature(header: str, raw_body: bytes) -> bool:
    """mobieusCore quickstart: t=<unix>,v1=<hex>; 300 s tolerance; HMAC(secret, t.body)."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(","))
    try:
        t = int(parts["t"])
        v1 = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(int(time.time()) - t) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)


def verify_hex_body_hmac(payload: bytes, signature: str) -> bool:
    """Mathub (and Mobaro's X-Webhook-Signature): hex HMAC-SHA256 of the body."""
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def verify_standard_webhook() -> bool:
    """Mobius: the SDK helper checks the signature and timestamp drift (Standard Webhooks)."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + raw_body, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in sigs)


sender = req["sender"]
check(headers.get("content-type") == "application/json", "Content-Type: application/json")
evt = json.loads(raw_body)
if sender == "mobieuscore":
    check(verify_mobieus_signature(headers.get("mobieus-signature", ""), raw_body), "Mobieus-Signature")
    check(headers.get("user-agent") == "Mobieus-Webhook/1.0", "User-Agent")
    check(headers.get("mobieus-event-id") == evt["id"], "Mobieus-Event-Id is the event id")
    check(headers.get("mobieus-event-type") == evt["type"], "Mobieus-Event-Type is the event type")
    check(sorted(evt) == ["created_at", "data", "id", "type"], "body {id, type, created_at, data}")
elif sender == "mobius":
    check(verify_standard_webhook(), "signature and timestamp")
    check(headers.get("mobius-delivery-id", "").startswith("del_"), "a delivery id to dedupe on")
elif sender == "mobaro":
    check(verify_hex_body_hmac(raw_body, headers.get("x-webhook-signature", "")), "X-Webhook-Signature")
    check(sorted(evt) == ["event", "objectId", "resource", "timestamp"], "lightweight payload")
elif sender == "mathub":
    check(verify_hex_body_hmac(raw_body, headers.get("x-mathub-signature", "")), "X-Mathub-Signature")
    check(headers.get("x-mathub-event") == evt["event"], "X-Mathub-Event is the event type")
    check(sorted(evt) == ["data", "event", "timestamp"], "body {event, timestamp, data}")
else:
    check(False, f"unknown sender {sender}")
print("ok")
