#!/usr/bin/env python3
"""Independent webhook signature verifier (Python stdlib only), used by the integration tests
to check Hookgate's signatures against code that shares nothing with ours.

stdin: JSON {"scheme", "secret", "headers": {name: value}, "body_b64", "header"?, "prefix"?}
exit 0 and print "ok" when the signature verifies, exit 1 otherwise.
"""
import base64, hashlib, hmac, json, sys, time

req = json.load(sys.stdin)
scheme, secret = req["scheme"], req["secret"]
headers = {k.lower(): v for k, v in req["headers"].items()}
body = base64.b64decode(req["body_b64"])


def fail(msg):
    print(msg)
    sys.exit(1)


if scheme == "standard":
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        fail("stale timestamp")
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers[req.get("header") or "webhook-signature"].split(" ") if s.startswith("v1,")]
    ok = any(hmac.compare_digest(expected, s) for s in sigs)
elif scheme == "stripe":
    parts = [p.split("=", 1) for p in headers[req.get("header") or "webhook-signature"].split(",")]
    t = next(v for k, v in parts if k == "t")
    if abs(time.time() - int(t)) > 300:
        fail("stale timestamp")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    ok = any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")
elif scheme == "github":
    prefix = req.get("prefix")
    prefix = "sha256=" if prefix is None else prefix
    got = headers[req.get("header") or "x-hub-signature-256"]
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, got)
else:
    fail("unknown scheme")

if not ok:
    fail("signature mismatch")
print("ok")
