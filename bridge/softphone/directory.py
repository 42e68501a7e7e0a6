"""What the softphone can call: the agent, the default dialplan, and every routed dialplan.

A number dialled from the page is routed exactly as a carrier's called number is
(:class:`~bridge.dialplan.routing.DialplanRouter`), so the page reaches what a phone would. Two
names are added for people at a keyboard: ``agent`` (straight to the LLM agent, whatever the
default is) and each dialplan's ``name`` (``reception`` reaches the default reception even
though it has no number of its own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bridge.dialplan.routing import DialplanRouter

AGENT = "agent"
MAX_NUMBER_CHARS = 64


@dataclass(frozen=True, slots=True)
class Entry:
    number: str  # what to dial
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Dialled:
    """Where a dialled number goes: ``agent`` true, or the called number to route."""

    agent: bool
    to_number: str


def directory(router: DialplanRouter) -> list[Entry]:
    entries = [Entry(AGENT, "AI agent", "Straight to the LLM agent")]
    if router.default is not None:
        default = router.default
        entries.append(Entry(default.name, default.name, default.description or "The default"))
    for plan in router.plans:
        if plan.route.numbers and plan is not router.default:
            entries.append(Entry(plan.route.numbers[0], plan.name, plan.description))
    return entries


def listing(router: DialplanRouter) -> list[dict[str, Any]]:
    return [asdict(entry) for entry in directory(router)]


class BadNumber(ValueError):
    """A number that cannot be dialled (empty, too long, or with odd characters)."""


def dial(router: DialplanRouter, number: str) -> Dialled:
    """Where ``number`` goes; raises :class:`BadNumber` when it is not a number or a name."""
    number = number.strip()
    if not number or len(number) > MAX_NUMBER_CHARS or not number.isprintable():
        raise BadNumber("a number is 1 to 64 printable characters")
    if number.lower() == AGENT:
        return Dialled(agent=True, to_number="")
    for plan in router.plans:
        if plan.name == number and plan.route.numbers:
            return Dialled(agent=False, to_number=plan.route.numbers[0])
    return Dialled(agent=False, to_number=number)  # unmatched: the default answers
