"""The host object a handler gets (``handle(delivery, host)``), over the four host interfaces.

``hookgate.wit`` builds it over the gateway's imports, ``hookgate.mock`` over in-memory fakes,
so a plugin's calls behave the same in its unit tests as in the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from . import Header, PluginError, _to_bytes


@dataclass
class Response:
    """An HTTP response to a plugin's request."""
    status: int
    headers: List[Header]
    body: bytes

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def text(self) -> str:
        """The body as text (UTF-8)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Log:
    """Lines in the gateway's log, tagged with the plugin's name and rate-limited."""

    def __init__(self, write: Callable[[str, str], None]):
        self._write = write

    def trace(self, message: str) -> None:
        self._write("trace", str(message))

    def debug(self, message: str) -> None:
        self._write("debug", str(message))

    def info(self, message: str) -> None:
        self._write("info", str(message))

    def warn(self, message: str) -> None:
        self._write("warn", str(message))

    def error(self, message: str) -> None:
        self._write("error", str(message))


class Kv:
    """The plugin's persistent key-value store. Raises PluginError unless granted
    ``allow: { kv: true }``."""

    def __init__(self, raw: Any):
        self._raw = raw

    def get(self, key: str) -> Optional[bytes]:
        """Bytes under ``key``, or None."""
        return self._raw.get(key)

    def get_text(self, key: str) -> Optional[str]:
        """Text under ``key``, or None."""
        v = self.get(key)
        return None if v is None else v.decode()

    def get_json(self, key: str) -> Any:
        """JSON under ``key``, parsed, or None."""
        v = self.get(key)
        return None if v is None else json.loads(v)

    def set(self, key: str, value: Any) -> None:
        """Stores bytes or a str (UTF-8) under ``key``."""
        self._raw.set(key, _to_bytes(value) if isinstance(value, (bytes, str)) else
                      _to_bytes(str(value)))

    def set_json(self, key: str, value: Any) -> None:
        """Stores ``value`` as JSON under ``key``."""
        self._raw.set(key, json.dumps(value).encode())

    def delete(self, key: str) -> None:
        """Removes ``key``."""
        self._raw.delete(key)


class Http:
    """Outbound HTTP to the origins granted in ``allow: { http: [...] }``, through the
    gateway's SSRF guard. Raises PluginError otherwise."""

    def __init__(self, send: Callable[[str, str, List[Header], Optional[bytes]], Response]):
        self._send = send

    def get(self, url: str, headers: Optional[List[Header]] = None) -> Response:
        return self._send("get", url, list(headers or []), None)

    def post(self, url: str, body: Any, headers: Optional[List[Header]] = None) -> Response:
        return self._send("post", url, list(headers or []), _to_bytes(body))

    def post_json(self, url: str, value: Any, headers: Optional[List[Header]] = None) -> Response:
        hs = list(headers or []) + [Header("content-type", "application/json")]
        return self._send("post", url, hs, json.dumps(value).encode())


class Host:
    """What a handler can reach: its config, the log, kv and http (as granted)."""

    def __init__(self, config_text: Callable[[], str], log: Log, kv: Kv, http: Http):
        self._config_text = config_text
        self._config: Any = None
        self._parsed = False
        self.log = log
        self.kv = kv
        self.http = http

    def config(self) -> Any:
        """The chain entry's ``config``, parsed (None when absent)."""
        if not self._parsed:
            self._config = json.loads(self._config_text())
            self._parsed = True
        return self._config

    def config_text(self) -> str:
        """The chain entry's ``config`` as JSON text."""
        return self._config_text()


__all__ = ["Host", "Log", "Kv", "Http", "Response", "PluginError"]
