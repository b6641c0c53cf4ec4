"""A local stand-in for the gateway, for a plugin's tests under ordinary CPython (pytest):
the same host object and return-value checks as in the sandbox, over in-memory kv, a config
you pass, a log you can read back and an ``http`` you answer yourself::

    gw = MockGateway(config={"min": 10})
    out = gw.run(plugin, {"type": "invoice.paid", "data": {"amount": 50}})
    assert out.decision == "deliver"
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

from . import (Deliver, Delivery, EndpointInfo, EventInfo, Header, PluginError, Problem,
               decision, problems)
from .host import Host, Http, Kv, Log, Response


@dataclass
class Result:
    """What the gateway would do with a delivery after this plugin."""
    decision: str  # "deliver" | "drop" | "error"
    body: Optional[str] = None
    headers: List[Header] = field(default_factory=list)
    reason: Optional[str] = None
    error: Optional[str] = None

    def json(self) -> Any:
        """The delivered body, parsed."""
        return json.loads(self.body) if self.body is not None else None


class _MemKv:
    def __init__(self, granted: bool, initial: Dict[str, Any]):
        self.granted = granted
        self.items = {k: (v if isinstance(v, str) else json.dumps(v)).encode()
                      for k, v in initial.items()}

    def _check(self) -> None:
        if not self.granted:
            raise PluginError("kv is not granted to this plugin")

    def get(self, key: str):
        self._check()
        return self.items.get(key)

    def set(self, key: str, value: bytes) -> None:
        self._check()
        self.items[key] = value

    def delete(self, key: str) -> None:
        self._check()
        self.items.pop(key, None)


class MockGateway:
    """``config``: the chain entry's config; ``kv``: preloaded entries; ``grants``:
    ``{"kv": bool, "http": [origins]}``; ``http``: a function answering ``(method, url,
    headers, body)`` with ``(status, body)`` or a Response."""

    def __init__(self, config: Any = None, kv: Optional[Dict[str, Any]] = None,
                 grants: Optional[Dict[str, Any]] = None,
                 http: Optional[Callable[..., Any]] = None):
        grants = {"kv": True, "http": [], **(grants or {})}
        self.logs: List[tuple] = []
        self._kv = _MemKv(grants["kv"], kv or {})
        self._origins = grants["http"]
        self._answer = http
        text = json.dumps(config)
        self.host = Host(lambda: text, Log(lambda lvl, msg: self.logs.append((lvl, msg))),
                         Kv(self._kv), Http(self._send))

    @property
    def kv(self) -> Dict[str, bytes]:
        """kv as it is now."""
        return self._kv.items

    def _send(self, method: str, url: str, headers: List[Header], body: Any) -> Response:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._origins:
            raise PluginError(f"http to {origin} is not granted to this plugin")
        if self._answer is None:
            raise PluginError(f"no http answer set up for {url}")
        res = self._answer(method, url, headers, body)
        if isinstance(res, Response):
            return res
        status, payload = res
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        return Response(status, [], data)

    def run(self, plugin: Any, event: Dict[str, Any],
            headers: Optional[List[Header]] = None) -> Result:
        """Runs ``plugin.handle`` on an event as published (``{type, data, id?, tenant?}``)."""
        try:
            out = decision(plugin.handle(delivery_for(event, headers or []), self.host))
        except Exception as e:
            return Result("error", error=str(e) or type(e).__name__)
        if isinstance(out, Deliver):
            return Result("deliver", body=out.body.decode("utf-8", errors="replace"),
                          headers=out.headers)
        return Result("drop", reason=out.reason)

    def validate(self, plugin: Any, config: Any) -> List[Problem]:
        """The problems the gateway would refuse ``config`` with."""
        check = getattr(plugin, "validate", None)
        return problems(check(config, self.host)) if check else []


def delivery_for(event: Dict[str, Any], headers: List[Header]) -> Delivery:
    """The delivery the gateway would hand a plugin for ``event`` (the JSON envelope)."""
    eid = event.get("id", "evt_test")
    etype = event.get("type", "test.event")
    stamp = event.get("timestamp", "2026-01-01T00:00:00Z")
    body = json.dumps({"id": eid, "type": etype, "timestamp": stamp,
                       "data": event.get("data")}).encode()
    return Delivery("del_test", EventInfo(eid, etype, event.get("tenant", "default"), stamp),
                    EndpointInfo("test", "https://receiver.example/hook"), body, headers)
