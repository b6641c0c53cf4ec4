"""A plugin that misbehaves on purpose, as its config says, so the tests can show the sandbox
contains a Python guest exactly as it contains a Rust one. Never use it in a real config.

config: {"do": "loop" | "memory" | "huge" | "http" | "raise", "mib": 64}
"""

from hookgate import Deliver


def handle(delivery, host):
    what = (host.config() or {}).get("do")
    if what == "loop":
        while True:
            pass
    if what == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if what == "huge":
        return Deliver(bytes((host.config().get("mib", 64)) << 20), [])
    if what == "http":
        host.http.get("https://api.example.com/lookup")
    if what == "raise":
        raise ValueError("refused on purpose")
    return delivery
