"""Hookgate plugin SDK for Python: the part with no host behind it.

Pure Python (standard library only): it runs inside the gateway's sandbox (CPython built by
componentize-py, through ``hookgate.wit``) and under ordinary CPython in an author's tests
(through ``hookgate.mock``), so a plugin behaves the same in both.

A plugin module defines ``handle(delivery, host)`` and, optionally, ``validate(config, host)``::

    from hookgate import drop

    def handle(delivery, host):
        if delivery.json()["data"]["amount"] < host.config()["min"]:
            return drop("below the minimum")
        return delivery.set_header("x-checked", "1")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union

__all__ = [
    "Header", "EventInfo", "EndpointInfo", "Delivery", "Deliver", "Drop", "Problem",
    "deliver", "deliver_json", "drop", "problem", "headers", "pointer", "check_header",
    "PluginError",
]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class PluginError(Exception):
    """An error the gateway records for the delivery (the endpoint's ``on_error`` decides)."""


@dataclass
class Header:
    """One HTTP header; names compare case-insensitively."""
    name: str
    value: str


@dataclass
class EventInfo:
    """The event being delivered."""
    id: str
    event_type: str
    tenant: str
    timestamp: str


@dataclass
class EndpointInfo:
    """The endpoint the delivery goes to."""
    id: str
    url: str


@dataclass
class Deliver:
    """Send ``body`` with ``headers``."""
    body: bytes
    headers: List[Header] = field(default_factory=list)


@dataclass
class Drop:
    """Do not send; the delivery becomes ``filtered`` with ``reason``."""
    reason: str


@dataclass
class Problem:
    """A problem in a chain entry's config: where (a JSON pointer) and what."""
    pointer: str
    message: str


Decision = Union[Deliver, Drop]


def check_header(name: str, value: str) -> None:
    """Raises the gateway's own reason for a header it would refuse, before the gateway does."""
    if not _TOKEN.match(name):
        raise PluginError(f"header name {name!r} is not a token")
    if any(c in value for c in "\r\n\0"):
        raise PluginError(f"header {name}: value contains CR, LF or NUL")


class headers:
    """Helpers over header lists."""

    @staticmethod
    def get(items: List[Header], name: str) -> Optional[str]:
        """The first value of ``name``, or None."""
        n = name.lower()
        return next((h.value for h in items if h.name.lower() == n), None)

    @staticmethod
    def set(items: List[Header], name: str, value: str) -> List[Header]:
        """A copy of ``items`` with ``name`` set to ``value`` (replacing earlier values)."""
        check_header(name, str(value))
        return headers.remove(items, name) + [Header(name, str(value))]

    @staticmethod
    def remove(items: List[Header], name: str) -> List[Header]:
        """A copy of ``items`` without ``name``."""
        n = name.lower()
        return [h for h in items if h.name.lower() != n]


_MISSING = object()


class pointer:
    """JSON Pointer (RFC 6901) reads and edits on parsed JSON."""

    @staticmethod
    def tokens(ptr: str) -> List[str]:
        """``/a~1b/0`` → ``["a/b", "0"]``."""
        if ptr == "":
            return []
        if not ptr.startswith("/"):
            raise ValueError(f"JSON pointer {ptr!r} must be empty or start with '/'")
        return [t.replace("~1", "/").replace("~0", "~") for t in ptr[1:].split("/")]

    @staticmethod
    def get(doc: Any, ptr: str, default: Any = None) -> Any:
        """The value at ``ptr``, or ``default``."""
        cur = doc
        for t in pointer.tokens(ptr):
            cur = _child(cur, t)
            if cur is _MISSING:
                return default
        return cur

    @staticmethod
    def has(doc: Any, ptr: str) -> bool:
        """Whether something is at ``ptr``."""
        return pointer.get(doc, ptr, _MISSING) is not _MISSING

    @staticmethod
    def set(doc: Any, ptr: str, value: Any) -> Any:
        """Sets ``ptr`` to ``value``, creating objects on the way; ``-`` appends to a list."""
        ts = pointer.tokens(ptr)
        if not ts:
            raise ValueError("cannot set the whole document through a pointer")
        cur = doc
        for t in ts[:-1]:
            nxt = _child(cur, t)
            if not isinstance(nxt, (dict, list)):
                nxt = {}
                cur[t] = nxt
            cur = nxt
        last = ts[-1]
        if isinstance(cur, list):
            if last == "-":
                cur.append(value)
            else:
                cur[int(last)] = value
        else:
            cur[last] = value
        return doc

    @staticmethod
    def remove(doc: Any, ptr: str) -> bool:
        """Removes ``ptr``; True when something was there."""
        ts = pointer.tokens(ptr)
        if not ts:
            return False
        parent = doc
        for t in ts[:-1]:
            parent = _child(parent, t)
        if _child(parent, ts[-1]) is _MISSING:
            return False
        del parent[int(ts[-1]) if isinstance(parent, list) else ts[-1]]
        return True


def _child(cur: Any, token: str) -> Any:
    if isinstance(cur, dict):
        return cur.get(token, _MISSING)
    if isinstance(cur, list) and token.isdigit() and int(token) < len(cur):
        return cur[int(token)]
    return _MISSING


def _to_bytes(body: Any) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


class Delivery:
    """One delivery as a handler sees it: the gateway's record plus parsing helpers."""

    def __init__(self, id: str, event: EventInfo, endpoint: EndpointInfo, body: bytes,
                 headers: List[Header]):
        self.id = id
        self.event = event
        self.endpoint = endpoint
        self.body = bytes(body)
        self.headers = [Header(h.name, h.value) for h in headers]
        self._json: Any = _MISSING

    @property
    def event_type(self) -> str:
        """The event type, e.g. ``invoice.paid``."""
        return self.event.event_type

    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON, once; edits to the returned value are what ``deliver()``
        sends. Raises a clear PluginError when the body is not JSON."""
        if self._json is _MISSING:
            try:
                self._json = json.loads(self.body)
            except ValueError as e:
                raise PluginError(f"the body is not JSON: {e}") from None
        return self._json

    def set_json(self, value: Any) -> "Delivery":
        """Replaces the JSON this delivery will send."""
        self._json = value
        return self

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name``, or None."""
        return headers.get(self.headers, name)

    def set_header(self, name: str, value: str) -> "Delivery":
        """Sets header ``name`` on what will be sent."""
        self.headers = headers.set(self.headers, name, value)
        return self

    def remove_header(self, name: str) -> "Delivery":
        """Removes header ``name`` from what will be sent."""
        self.headers = headers.remove(self.headers, name)
        return self

    def deliver(self) -> Deliver:
        """Send this delivery: its JSON (as edited) or its body, with its headers."""
        if self._json is _MISSING:
            return Deliver(self.body, list(self.headers))
        return deliver_json(self._json, self.headers)


def deliver(body: Any, hdrs: Optional[List[Header]] = None) -> Deliver:
    """Send ``body`` (bytes, a str, or a value sent as JSON) with ``hdrs``."""
    hdrs = list(hdrs or [])
    for h in hdrs:
        check_header(h.name, h.value)
    return Deliver(_to_bytes(body), hdrs)


def deliver_json(value: Any, hdrs: Optional[List[Header]] = None) -> Deliver:
    """Send ``value`` as compact JSON with ``hdrs``."""
    return deliver(json.dumps(value, separators=(",", ":"), ensure_ascii=False), hdrs)


def drop(reason: str) -> Drop:
    """Do not send; the delivery becomes ``filtered`` with ``reason``."""
    return Drop(str(reason))


def problem(ptr: str, message: str) -> Problem:
    """A problem for ``validate``: where (a JSON pointer) and what is wrong."""
    return Problem(ptr, message)


def decision(result: Any) -> Decision:
    """A handler's return value as a decision: ``deliver``/``drop`` or the delivery itself."""
    if isinstance(result, Delivery):
        return result.deliver()
    if isinstance(result, Drop):
        return result
    if isinstance(result, Deliver):
        for h in result.headers:
            check_header(h.name, h.value)
        return result
    raise PluginError(
        f"handle returned {result!r}: return deliver(...), drop(...) or the delivery")


def problems(found: Any) -> List[Problem]:
    """``validate``'s answer as a list of Problem (a str is a problem with the whole config)."""
    return [p if isinstance(p, Problem) else Problem("", str(p)) for p in (found or [])]
