"""The dialplans shipped in ``dialplans/``: they load, check clean, and do what they promise."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from bridge.dialplan import expressions, hours
from bridge.dialplan.check import check_text, load_dialplan
from bridge.dialplan.graph import node_ids, to_dot, to_mermaid
from bridge.dialplan.schema import (
    Agent,
    Branch,
    Dialplan,
    Gather,
    Hours,
    Http,
    Menu,
    Record,
    SetVariables,
    Transfer,
)

DIALPLANS = Path(__file__).resolve().parents[2] / "dialplans"
SHIPPED = sorted(DIALPLANS.glob("*.yaml"))
T = TypeVar("T")


def shipped(name: str) -> Dialplan:
    return load_dialplan(DIALPLANS / f"{name}.yaml")


def nodes_of(plan: Dialplan, kind: type[T]) -> dict[str, T]:
    return {name: node for name, node in plan.nodes.items() if isinstance(node, kind)}


def menu_choices(menu: Menu) -> dict[str, str]:
    return {option.keys or "": option.goto for option in menu.options}


def test_the_three_demos_are_shipped() -> None:
    assert {path.stem for path in SHIPPED} >= {"reception", "bank", "appointments"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_dialplan_is_clean(path: Path) -> None:
    plan = load_dialplan(path)
    _, problems = check_text(path.read_text(encoding="utf-8"), str(path))
    assert [str(p) for p in problems] == []  # no warnings either
    assert plan.description


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_dialplan_can_be_drawn(path: Path) -> None:
    plan = load_dialplan(path)
    mermaid, dot = to_mermaid(plan), to_dot(plan)
    for node_id in node_ids(list(plan.nodes)).values():
        assert f"    {node_id}" in mermaid
        assert f'    "{node_id}"' in dot


def test_route_numbers_are_unique_across_dialplans() -> None:
    seen: dict[str, str] = {}
    for path in SHIPPED:
        plan = load_dialplan(path)
        for number in plan.route.numbers:
            assert number not in seen, f"{number} routed by {seen.get(number)} and {path.name}"
            seen[number] = path.name


# --- reception -------------------------------------------------------------------------------


def test_reception_is_the_default_so_it_has_no_route() -> None:
    plan = shipped("reception")
    assert plan.route.numbers == []
    assert plan.route.parameter == {}


def test_reception_menus() -> None:
    plan = shipped("reception")
    menus = nodes_of(plan, Menu)
    plain, with_assistant = menus["menu"], menus["menu_with_assistant"]
    expected = {"1": "sales", "2": "support", "3": "opening_hours", "0": "operator"}
    assert menu_choices(plain) == expected
    assert menu_choices(with_assistant) == {**expected, "9": "assistant"}
    phrases = {option.goto: option.phrases for option in with_assistant.options}
    assert "sales" in phrases["sales"]
    assert "support" in phrases["support"]
    assert "opening hours" in phrases["opening_hours"]
    assert "operator" in phrases["operator"]
    assert "assistant" in phrases["assistant"]
    assert "assistant" not in plain.prompt  # only offered when there is a model


@pytest.mark.parametrize(
    ("llm_available", "menu"), [(True, "menu_with_assistant"), (False, "menu")]
)
def test_reception_offers_the_assistant_only_with_an_llm(llm_available: bool, menu: str) -> None:
    plan = shipped("reception")
    branch = plan.nodes["choose_menu"]
    assert isinstance(branch, Branch)
    variables = {**plan.variables, "llm_available": llm_available}
    chosen = next(
        (c.goto for c in branch.conditions if expressions.evaluate(c.if_, variables)),
        branch.default,
    )
    assert chosen == menu
    assert plan.variables["llm_available"] is False  # the demo default: no model


def test_reception_global_operator_and_agent_exits() -> None:
    plan = shipped("reception")
    assert [(g.keys, "operator" in g.phrases, g.goto) for g in plan.globals] == [
        ("0", True, "operator")
    ]
    assert isinstance(plan.nodes["operator"], Transfer)
    agent = plan.nodes["assistant"]
    assert isinstance(agent, Agent)
    assert "receptionist" in agent.instructions
    assert "choose_menu" in agent.exits
    assert agent.next == "choose_menu"


def test_reception_transfers_that_fail_go_back_to_the_menu_or_to_voicemail() -> None:
    plan = shipped("reception")
    transfers = nodes_of(plan, Transfer)
    assert set(transfers) == {"sales", "support", "operator"}
    # A department that cannot be reached: back to the menu (no on_error), where the caller
    # can choose again; the operator is the last resort, so the caller may leave a message.
    assert transfers["sales"].on_error is None
    assert transfers["support"].on_error is None
    assert transfers["sales"].error_text == "I'm sorry, I can't transfer you right now."
    assert transfers["operator"].on_error == "voicemail"
    assert isinstance(plan.nodes["voicemail"], Record)


@pytest.mark.parametrize(
    ("name", "transfer"), [("bank", "to_advisor"), ("appointments", "front_desk")]
)
def test_failed_transfers_in_the_other_demos_have_somewhere_to_go(name: str, transfer: str) -> None:
    plan = shipped(name)
    node = plan.nodes[transfer]
    assert isinstance(node, Transfer)
    assert node.on_error is not None
    assert plan.nodes[node.on_error].type in ("hangup", "record")  # never back to a PIN prompt
    assert "sorry" in node.error_text.lower()


def test_reception_hours_in_london() -> None:
    office = shipped("reception").nodes["office_hours"]
    assert isinstance(office, Hours)
    assert office.timezone == "Europe/London"
    assert (office.open_goto, office.closed_goto) == ("choose_menu", "closed")
    london = ZoneInfo("Europe/London")

    def is_open(moment: datetime) -> bool:
        return hours.is_open(office.open, office.holidays, office.timezone, moment)

    assert is_open(datetime(2026, 3, 3, 10, 0, tzinfo=london))  # a Tuesday morning
    assert not is_open(datetime(2026, 3, 3, 18, 0, tzinfo=london))  # after closing
    assert not is_open(datetime(2026, 3, 8, 11, 0, tzinfo=london))  # a Sunday
    assert not is_open(datetime(2025, 12, 25, 11, 0, tzinfo=london))  # Christmas Day
    voicemail = shipped("reception").nodes["voicemail"]
    assert isinstance(voicemail, Record)
    assert voicemail.next == "goodbye"


# --- bank ------------------------------------------------------------------------------------


def test_bank_pin_is_four_keyed_digits() -> None:
    plan = shipped("bank")
    pin = plan.nodes["ask_pin"]
    assert isinstance(pin, Gather)
    assert (pin.input, pin.finish_key, pin.digits, pin.variable) == ("dtmf", "#", 4, "pin")
    assert pin.pattern is not None
    assert re.fullmatch(pin.pattern, "0042")
    assert not re.fullmatch(pin.pattern, "123")
    assert len(pin.no_input) == 2
    assert len(pin.no_match) == 2
    assert pin.retries == 2
    assert isinstance(plan.nodes[pin.fallback or ""], Transfer)


def test_bank_posts_account_and_pin_to_the_configured_url() -> None:
    plan = shipped("bank")
    lookup = plan.nodes["lookup"]
    assert isinstance(lookup, Http)
    assert lookup.method == "POST"
    assert lookup.url == "{{bank_api_url}}"
    assert plan.variables["bank_api_url"] == "http://127.0.0.1:9/balance"
    assert lookup.body == {"account": "{{account}}", "pin": "{{pin}}"}
    assert lookup.save["balance"] == "balance"
    apology = plan.nodes[lookup.on_error]
    assert apology.type == "say"
    assert isinstance(plan.nodes[apology.next or ""], Transfer)
    balance = plan.nodes["tell_balance"]
    assert balance.type == "say"
    assert balance.text == "Your balance is {{balance}} dollars."
    assert plan.route.numbers


@pytest.mark.parametrize(
    ("verified", "pin_retry", "goes_to"),
    [(True, False, "tell_balance"), (False, False, "wrong_pin"), (False, True, "pin_locked")],
)
def test_bank_checks_the_reply(verified: bool, pin_retry: bool, goes_to: str) -> None:
    plan = shipped("bank")
    branch = plan.nodes["check_reply"]
    assert isinstance(branch, Branch)
    variables = {"verified": verified, "pin_retry": pin_retry}
    chosen = next(
        (c.goto for c in branch.conditions if expressions.evaluate(c.if_, variables)),
        branch.default,
    )
    assert chosen == goes_to


# --- appointments ----------------------------------------------------------------------------


def test_appointments_route_and_menu() -> None:
    plan = shipped("appointments")
    assert plan.route.numbers == ["+15550100200"]
    menu = plan.nodes["main_menu"]
    assert isinstance(menu, Menu)
    assert menu.input == "both"
    assert menu_choices(menu) == {
        "1": "start_booking",
        "2": "start_cancel",
        "3": "front_desk_hours",
    }
    assert all(option.phrases for option in menu.options)


def test_appointments_agent_tools() -> None:
    plan = shipped("appointments")
    agents = nodes_of(plan, Agent)
    assert len(agents) == 1
    (agent,) = agents.values()
    tools = {tool.name: tool for tool in agent.tools}
    assert set(tools) == {"find_slots", "book_slot"}
    date = tools["find_slots"].parameters
    assert date["type"] == "object"
    assert date["required"] == ["date"]
    assert date["properties"]["date"]["type"] == "string"
    assert set(tools["book_slot"].parameters["required"]) >= {"slot_id"}
    assert nodes_of(plan, SetVariables)
    assert nodes_of(plan, Hours)
    desk = nodes_of(plan, Hours)["front_desk_hours"]
    assert desk.timezone == "America/New_York"
    now = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
    assert hours.is_open(desk.open, desk.holidays, desk.timezone, now)
