"""Unit tests against a local mock of the gateway: `.venv/bin/python -m pytest`."""
import handler
from hookgate.mock import MockGateway


def test_an_amount_below_the_minimum_is_dropped():
    out = MockGateway(config={"min_amount": 100}).run(handler, {"data": {"amount": 5}})
    assert (out.decision, out.reason) == ("drop", "amount below 100")


def test_other_events_get_a_field_and_a_header():
    out = MockGateway(config={"min_amount": 100}).run(handler, {"data": {"amount": 500}})
    assert out.json()["data"]["checked_by"] == "{{name}}"
    assert [(h.name, h.value) for h in out.headers] == [("x-checked-by", "{{name}}")]


def test_a_non_numeric_minimum_is_refused_at_load():
    assert [p.pointer for p in MockGateway().validate(handler, {"min_amount": "5"})] == ["/min_amount"]
