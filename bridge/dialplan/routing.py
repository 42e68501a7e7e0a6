"""Which dialplan answers a call: by called number or carrier parameter, else the default.

``BRIDGE_DEFAULT_DIALPLAN`` is a file path, or ``agent`` to send every unmatched call straight
to the LLM agent. Every ``*.yaml`` in ``BRIDGE_DIALPLANS_DIR`` is loaded (and checked) at
start-up, so a broken file stops the bridge with its ``file:line`` instead of failing a call.
"""

from __future__ import annotations

from pathlib import Path

from bridge.carriers.base import CallStarted
from bridge.config import Settings
from bridge.dialplan.check import load_dialplan
from bridge.dialplan.schema import Dialplan

AGENT = "agent"


class DialplanRouter:
    def __init__(self, plans: list[Dialplan], default: Dialplan | None) -> None:
        self.plans = plans
        self.default = default

    @classmethod
    def from_settings(cls, settings: Settings) -> DialplanRouter:
        directory = Path(settings.dialplans_dir)
        plans = (
            [load_dialplan(p) for p in sorted(directory.glob("*.yaml"))]
            if directory.is_dir()
            else []
        )
        default = None
        if settings.default_dialplan != AGENT:
            default = load_dialplan(settings.default_dialplan)
        return cls(plans, default)

    def select(self, started: CallStarted) -> Dialplan | None:
        """The dialplan for this call; None means the LLM agent answers."""
        for plan in self.plans:
            route = plan.route
            if started.to_number and _normal(started.to_number) in {
                _normal(n) for n in route.numbers
            }:
                return plan
            if route.parameter and all(
                started.parameters.get(key) == value for key, value in route.parameter.items()
            ):
                return plan
        return self.default


def _normal(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit() or ch == "+").lstrip("+")
