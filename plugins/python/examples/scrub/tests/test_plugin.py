import handler
from hookgate.mock import MockGateway

EVENT = {"type": "customer.updated", "data": {
    "customer": {"email": "ada@example.com", "name": "Ada"},
    "note": "call ada@example.com, card 4242 4242 4242 4242",
    "order": "1234567890123",
    "items": [{"contact": "bob@example.org"}],
}}


def test_chosen_fields_and_detected_data_are_masked():
    gw = MockGateway(config={"fields": ["/data/customer/name"], "patterns": ["email", "card"]})
    out = gw.run(handler, EVENT)
    assert out.decision == "deliver"
    data = out.json()["data"]
    assert data["customer"] == {"email": "[redacted]", "name": "[redacted]"}
    assert data["note"] == "call [redacted], card [redacted]"
    assert data["items"] == [{"contact": "[redacted]"}]


def test_numbers_that_fail_the_luhn_check_are_left_alone():
    out = MockGateway(config={"patterns": ["card"]}).run(handler, EVENT)
    assert out.json()["data"]["order"] == "1234567890123"


def test_the_envelope_outside_data_is_untouched():
    out = MockGateway(config={"patterns": ["email"], "mask": "*"}).run(handler, EVENT)
    assert out.json()["type"] == "customer.updated"
    assert out.json()["data"]["customer"]["email"] == "*"


def test_a_bad_config_is_refused_by_pointer():
    found = MockGateway().validate(handler, {"fields": ["/id"], "patterns": ["ssn"]})
    assert [p.pointer for p in found] == ["/fields/0", "/patterns/0"]
    assert "expected one of: email, card" in found[1].message


def test_a_card_written_with_a_separator_after_every_digit_is_still_masked():
    event = {"type": "t", "data": {"note": "4-2-4-2-4-2-4-2-4-2-4-2-4-2-4-2"}}
    out = MockGateway(config={"patterns": ["card"]}).run(handler, event)
    assert out.json()["data"]["note"] == "[redacted]"


def test_the_mask_is_used_as_it_is_written():
    out = MockGateway(config={"patterns": ["email"], "mask": r"\g<0>"}).run(handler, EVENT)
    assert out.json()["data"]["customer"]["email"] == r"\g<0>"
