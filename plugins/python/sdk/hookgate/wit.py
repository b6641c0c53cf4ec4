"""The glue between a plugin module and the gateway: ``component(plugin)`` gives the
``Handler`` and ``Validate`` classes componentize-py exports. Only this module imports the
generated WIT bindings, so everything else runs under ordinary CPython in tests::

    # app.py
    import plugin
    from hookgate.wit import component
    Handler, Validate = component(plugin)
"""

from __future__ import annotations

import json
from typing import Any, List

import wit_world
from componentize_py_types import Err
from wit_world.exports import validate as wit_validate
from wit_world.imports import config, http, kv, log, types

from . import (Deliver, Delivery, EndpointInfo, EventInfo, Header, PluginError, decision,
               problems)
from .host import Host, Http, Kv, Log, Response

_LEVELS = {"trace": log.Level.TRACE, "debug": log.Level.DEBUG, "info": log.Level.INFO,
           "warn": log.Level.WARN, "error": log.Level.ERROR}


class _RawKv:
    def get(self, key: str):
        try:
            return kv.get(key)
        except Err as e:
            raise PluginError(e.value) from None

    def set(self, key: str, value: bytes) -> None:
        try:
            kv.set(key, value)
        except Err as e:
            raise PluginError(e.value) from None

    def delete(self, key: str) -> None:
        try:
            kv.delete(key)
        except Err as e:
            raise PluginError(e.value) from None


def _send(method: str, url: str, headers: List[Header], body: Any) -> Response:
    req = http.Request(http.Method.GET if method == "get" else http.Method.POST, url,
                       [types.Header(h.name, h.value) for h in headers], body)
    try:
        res = http.send(req)
    except Err as e:
        raise PluginError(e.value) from None
    return Response(res.status, [Header(h.name, h.value) for h in res.headers], res.body)


_HOST = Host(config.get, Log(lambda level, msg: log.log(_LEVELS[level], msg)), Kv(_RawKv()),
             Http(_send))


def _delivery(d: types.Delivery) -> Delivery:
    e = d.event
    return Delivery(d.id, EventInfo(e.id, e.event_type, e.tenant, e.timestamp),
                    EndpointInfo(d.endpoint.id, d.endpoint.url), d.body,
                    [Header(h.name, h.value) for h in d.headers])


def component(plugin: Any):
    """The world's export classes for a module with ``handle(delivery, host)`` and, optionally,
    ``validate(config, host)``."""

    class Handler(wit_world.exports.Handler):
        def handle(self, input: types.Delivery) -> types.Decision:
            try:
                out = decision(plugin.handle(_delivery(input), _HOST))
            except Exception as e:  # every failure is the delivery's error, not a trap
                raise Err(str(e) or type(e).__name__) from None
            if isinstance(out, Deliver):
                hs = [types.Header(h.name, h.value) for h in out.headers]
                return types.Decision_Deliver(types.Output(out.body, hs))
            return types.Decision_Drop(out.reason)

    class Validate(wit_world.exports.Validate):
        def check_config(self, config_text: str) -> List[wit_validate.Problem]:
            check = getattr(plugin, "validate", None)
            if check is None:
                return []
            found = problems(check(json.loads(config_text), _HOST))
            return [wit_validate.Problem(p.pointer, p.message) for p in found]

    return Handler, Validate
