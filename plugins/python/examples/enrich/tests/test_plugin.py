import handler
from hookgate.mock import MockGateway

EVENT = {"type": "invoice.paid", "data": {"customer_id": "cus_1", "amount": 10}}


def test_the_tier_comes_from_kv_and_the_count_grows_per_customer():
    gw = MockGateway(config={"default_tier": "free"}, kv={"tier:cus_1": "gold"})
    first = gw.run(handler, EVENT)
    second = gw.run(handler, EVENT)
    assert first.json()["data"]["customer_tier"] == "gold"
    assert [first.json()["data"]["delivery_number"], second.json()["data"]["delivery_number"]] == [1, 2]
    assert [h.value for h in second.headers if h.name == "x-delivery-number"] == ["2"]
    assert gw.kv["count:cus_1"] == b"2"


def test_an_unknown_customer_gets_the_default_tier():
    out = MockGateway(config={"default_tier": "trial"}).run(handler, {"data": {"customer_id": "x"}})
    assert out.json()["data"]["customer_tier"] == "trial"


def test_without_a_customer_the_event_goes_unchanged():
    out = MockGateway().run(handler, {"data": {"amount": 1}})
    assert out.json()["data"] == {"amount": 1}


def test_without_the_kv_grant_the_delivery_fails_with_the_reason():
    out = MockGateway(grants={"kv": False}).run(handler, EVENT)
    assert out.decision == "error"
    assert out.error == "kv is not granted to this plugin"
