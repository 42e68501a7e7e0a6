"""The three small languages of a dialplan: branch conditions, opening hours, ``{{templates}}``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.dialplan import expressions, hours, template
from bridge.dialplan.expressions import ExpressionError, evaluate

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")

# --- conditions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "variables", "expected"),
    [
        ("pin == '1234'", {"pin": "1234"}, True),
        ("pin == '1234'", {"pin": "4321"}, False),
        ("pin != '1234'", {"pin": "4321"}, True),
        ("balance > 100", {"balance": 150.5}, True),
        ("balance >= 100", {"balance": 100}, True),
        ("balance < 100", {"balance": 100}, False),
        ("balance <= 100", {"balance": 100}, True),
        ("1 < attempts < 3", {"attempts": 2}, True),
        ("1 < attempts < 3", {"attempts": 3}, False),
        ("lang == 'fr'", {"lang": "fr"}, True),
        ("vip == True", {"vip": True}, True),
    ],
)
def test_comparisons(condition: str, variables: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, variables) is expected


@pytest.mark.parametrize(
    ("condition", "variables", "expected"),
    [
        ("digits == 42", {"digits": "42"}, True),  # gathered input is text
        ("digits > 9", {"digits": "10"}, True),  # numerically, not "10" < "9"
        ("amount >= 2.5", {"amount": "2.50"}, True),
        ("amount == '2.5'", {"amount": 2.5}, True),
        ("42 == answer", {"answer": " 42 "}, True),
        ("name > 3", {"name": "abc"}, False),  # text against a number is simply false
        ("name == 3", {"name": "abc"}, False),
        ("name == 'abc'", {"name": "abc"}, True),
    ],
)
def test_text_against_numbers(condition: str, variables: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, variables) is expected


@pytest.mark.parametrize(
    ("condition", "variables", "expected"),
    [
        ("a and b", {"a": True, "b": True}, True),
        ("a and b", {"a": True, "b": False}, False),
        ("a or b", {"a": False, "b": True}, True),
        ("a or b", {"a": False, "b": False}, False),
        ("not a", {"a": False}, True),
        ("not a", {"a": "yes"}, False),
        ("attempts >= 3 and not vip", {"attempts": "3", "vip": False}, True),
        ("attempts >= 3 and not vip", {"attempts": "3", "vip": True}, False),
        ("(a or b) and not (c == 1)", {"a": True, "c": 2}, True),
        ("lang in ['en', 'fr']", {"lang": "fr"}, True),
        ("lang in ['en', 'fr']", {"lang": "de"}, False),
        ("lang not in ('en', 'fr')", {"lang": "de"}, True),
        ("'gold' in tiers", {"tiers": ["silver", "gold"]}, True),
        ("'sales' in text", {"text": "I want sales please"}, True),
    ],
)
def test_and_or_not_in(condition: str, variables: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, variables) is expected


@pytest.mark.parametrize(
    "condition",
    ["missing", "missing == 1", "missing > 3", "missing < 3", "missing == 'x'", "missing in x"],
)
def test_missing_variables_are_false(condition: str) -> None:
    assert evaluate(condition, {}) is False


def test_missing_variable_is_none() -> None:
    assert evaluate("not missing", {}) is True
    assert evaluate("missing == None", {}) is True


@pytest.mark.parametrize(
    ("condition", "construct"),
    [
        ("__import__('os')", "Call"),
        ("__import__('os').system('id')", "Call"),
        ("open('/etc/passwd')", "Call"),
        ("x.__class__", "Attribute"),
        ("x[0]", "Subscript"),
        ("x + 1 > 2", "BinOp"),
        ("lambda: 1", "Lambda"),
        ("[c for c in x]", "ListComp"),
        ("{'a': 1}", "Dict"),
        ("{1, 2}", "Set"),
        ("f'{x}' == 'a'", "JoinedStr"),
        ("a if b else c", "IfExp"),
        ("(y := 1)", "NamedExpr"),
        ("x is None", "Is"),
    ],
)
def test_forbidden_constructs(condition: str, construct: str) -> None:
    with pytest.raises(ExpressionError, match=rf"^{construct} is not allowed in a condition"):
        expressions.parse(condition)
    with pytest.raises(ExpressionError):
        evaluate(condition, {"x": [1], "a": 1, "b": 1, "c": 1})


@pytest.mark.parametrize("condition", ["pin ==", "and", "x = 1", "import os", "", "1 +"])
def test_conditions_that_do_not_parse(condition: str) -> None:
    with pytest.raises(ExpressionError, match="cannot parse condition"):
        expressions.parse(condition)


def test_expression_error_is_a_value_error() -> None:
    # check.py and callers may catch ValueError for every kind of bad input.
    assert issubclass(ExpressionError, ValueError)


def test_pins_with_leading_zeros_compare_as_text() -> None:
    assert evaluate("pin == '42'", {"pin": "0042"}) is False


def test_negative_numbers() -> None:
    assert evaluate("balance < -1", {"balance": -5}) is True


# --- hours: days and spans -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sat", {5}),
        ("sun", {6}),
        ("mon,wed,fri", {0, 2, 4}),
        ("Mon - Fri", {0, 1, 2, 3, 4}),
        ("fri-mon", {4, 5, 6, 0}),  # wraps around the weekend
        ("sun-tue", {6, 0, 1}),
        ("sat-sun,wed", {5, 6, 2}),
        ("mon-sun", set(range(7))),
    ],
)
def test_parse_days(spec: str, days: set[int]) -> None:
    assert hours.parse_days(spec) == days


@pytest.mark.parametrize("spec", ["mon-fry", "weekdays", "", "mon,", "monday", "mon-fri-sat"])
def test_bad_days(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown day range"):
        hours.parse_days(spec)


@pytest.mark.parametrize(
    ("spec", "span"),
    [
        ("09:00-17:00", (time(9), time(17))),
        ("9:30-17:45", (time(9, 30), time(17, 45))),
        (" 08:00 - 12:00 ", (time(8), time(12))),
        ("00:00-24:00", (time(0), time.max)),  # all day
    ],
)
def test_parse_span(spec: str, span: tuple[time, time]) -> None:
    assert hours.parse_span(spec) == span


@pytest.mark.parametrize("spec", ["9-5", "09:00", "9am-5pm", "09:00-17:00-18:00", "0900-1700"])
def test_span_format(spec: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        hours.parse_span(spec)


@pytest.mark.parametrize("spec", ["25:00-26:00", "09:60-10:00", "24:00-24:00", "09:00-17:75"])
def test_span_times(spec: str) -> None:
    with pytest.raises(ValueError, match="are not valid times"):
        hours.parse_span(spec)


# --- hours: is_open --------------------------------------------------------------------------

OFFICE = {"mon-fri": "09:00-17:00", "sat": "10:00-13:00"}


def london(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (london(2025, 1, 6, 9, 0), True),  # Monday, the opening minute is open
        (london(2025, 1, 6, 8, 59, 59), False),  # a second before
        (london(2025, 1, 6, 16, 59, 59), True),
        (london(2025, 1, 6, 17, 0), False),  # the closing minute is closed
        (london(2025, 1, 10, 12, 0), True),  # Friday
        (london(2025, 1, 11, 10, 0), True),  # Saturday's shorter hours
        (london(2025, 1, 11, 13, 0), False),
        (london(2025, 1, 12, 12, 0), False),  # Sunday
    ],
)
def test_is_open_at_the_boundaries(moment: datetime, expected: bool) -> None:
    assert hours.is_open(OFFICE, [], "Europe/London", moment) is expected


def test_is_open_converts_to_the_zone() -> None:
    # 09:30 in London is 04:30 in New York: closed there, whatever the caller's zone.
    moment = london(2025, 1, 6, 9, 30)
    assert hours.is_open(OFFICE, [], "Europe/London", moment)
    assert not hours.is_open(OFFICE, [], "America/New_York", moment)
    assert hours.is_open(OFFICE, [], "America/New_York", moment + timedelta(hours=5))


def test_daylight_saving_time() -> None:
    # 08:30 UTC is 08:30 in London in winter (closed) but 09:30 in summer time (open).
    # British Summer Time began on Sunday 30 March 2025.
    friday_before = datetime(2025, 3, 28, 8, 30, tzinfo=UTC)
    monday_after = datetime(2025, 3, 31, 8, 30, tzinfo=UTC)
    assert not hours.is_open(OFFICE, [], "Europe/London", friday_before)
    assert hours.is_open(OFFICE, [], "Europe/London", monday_after)
    # New York moved on 9 March 2025: 13:30 UTC was 08:30 EST, then 09:30 EDT.
    friday_before = datetime(2025, 3, 7, 13, 30, tzinfo=UTC)
    monday_after = datetime(2025, 3, 10, 13, 30, tzinfo=UTC)
    assert not hours.is_open(OFFICE, [], "America/New_York", friday_before)
    assert hours.is_open(OFFICE, [], "America/New_York", monday_after)


def test_wrap_around_days() -> None:
    weekend = {"fri-mon": "10:00-16:00"}
    assert hours.is_open(weekend, [], "UTC", datetime(2025, 1, 12, 11, 0, tzinfo=UTC))  # Sun
    assert hours.is_open(weekend, [], "UTC", datetime(2025, 1, 13, 11, 0, tzinfo=UTC))  # Mon
    assert not hours.is_open(weekend, [], "UTC", datetime(2025, 1, 15, 11, 0, tzinfo=UTC))  # Wed


def test_several_spans_leave_a_lunch_break() -> None:
    split = {"mon-fri": "09:00-12:00", "mon,tue,wed,thu,fri": "13:00-17:00"}
    assert hours.is_open(split, [], "Europe/London", london(2025, 1, 7, 11, 59))
    assert not hours.is_open(split, [], "Europe/London", london(2025, 1, 7, 12, 30))
    assert hours.is_open(split, [], "Europe/London", london(2025, 1, 7, 13, 0))


def test_all_day() -> None:
    always = {"mon-sun": "00:00-24:00"}
    assert hours.is_open(always, [], "UTC", datetime(2025, 1, 7, 0, 0, tzinfo=UTC))
    assert hours.is_open(always, [], "UTC", datetime(2025, 1, 7, 23, 59, 58, tzinfo=UTC))


def test_holidays_close_the_whole_local_day() -> None:
    christmas = ["2025-12-25"]
    thursday = london(2025, 12, 25, 11, 0)
    assert hours.is_open(OFFICE, [], "Europe/London", thursday)
    assert not hours.is_open(OFFICE, christmas, "Europe/London", thursday)
    assert hours.is_open(OFFICE, christmas, "Europe/London", london(2025, 12, 26, 11, 0))


def test_holidays_use_the_local_date() -> None:
    always = {"mon-sun": "00:00-24:00"}
    # 03:00 UTC on the 26th is still the evening of the 25th in New York.
    moment = datetime(2025, 12, 26, 3, 0, tzinfo=UTC)
    assert not hours.is_open(always, ["2025-12-25"], "America/New_York", moment)
    assert hours.is_open(always, ["2025-12-25"], "Europe/London", moment)


# --- templates -------------------------------------------------------------------------------

VARIABLES: dict[str, Any] = {
    "name": "Ada",
    "balance": 1520.75,
    "count": 3,
    "vip": False,
    "nothing": None,
    "caller": {"address": {"city": "London"}, "phones": ["+441", "+442"]},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello {{name}}.", "Hello Ada."),
        ("Hello {{ name }}.", "Hello Ada."),
        ("Your balance is {{balance}} dollars.", "Your balance is 1520.75 dollars."),
        ("{{count}} items, vip: {{vip}}", "3 items, vip: False"),
        ("You live in {{caller.address.city}}.", "You live in London."),
        ("Second phone {{caller.phones.1}}", "Second phone +442"),
        ("Missing [{{nobody}}]", "Missing []"),
        ("Deep miss [{{caller.address.street}}]", "Deep miss []"),
        ("Past a leaf [{{name.first}}]", "Past a leaf []"),
        ("Out of range [{{caller.phones.5}}]", "Out of range []"),
        ("None [{{nothing}}]", "None []"),
        ("No placeholders", "No placeholders"),
        ("{{name}}{{name}}", "AdaAda"),
        ("Not a placeholder: {{1abc}} {name}", "Not a placeholder: {{1abc}} {name}"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert template.render(text, VARIABLES) == expected


def test_lookup() -> None:
    assert template.lookup(VARIABLES, "caller.address") == {"city": "London"}
    assert template.lookup(VARIABLES, "caller.phones.0") == "+441"
    assert template.lookup(VARIABLES, "caller.phones.x") is None
    assert template.lookup(VARIABLES, "missing.deeper") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{balance}}", 1520.75),  # a whole placeholder keeps the number
        (" {{ count }} ", 3),
        ("{{vip}}", False),
        ("{{caller.phones}}", ["+441", "+442"]),
        ("{{nobody}}", ""),
        ("{{balance}} dollars", "1520.75 dollars"),  # mixed text is text
        ("{{count}}{{count}}", "33"),
        (7, 7),
        (None, None),
        (True, True),
    ],
)
def test_render_value(value: Any, expected: Any) -> None:
    assert template.render_value(value, VARIABLES) == expected


def test_render_value_walks_json() -> None:
    body = {
        "account": "{{caller.phones.0}}",
        "amount": "{{balance}}",
        "items": ["{{count}}", "x{{count}}", {"who": "{{name}}"}],
        "fixed": 1,
    }
    assert template.render_value(body, VARIABLES) == {
        "account": "+441",
        "amount": 1520.75,
        "items": [3, "x3", {"who": "Ada"}],
        "fixed": 1,
    }
