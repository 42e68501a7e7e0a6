"""The dialplan schema: one model per node type, validated with pydantic.

Targets (``next``, ``goto``, ``fallback``, ...) name other nodes; :mod:`bridge.dialplan.check`
verifies them and reports unreachable nodes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Target = str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TurnDetection(Strict):
    """How a node tells that the caller has finished speaking (default: the call's,
    ``BRIDGE_TURN_DETECTION``). ``semantic_vad`` asks the end-of-turn model after a short
    pause (``eagerness`` sets its threshold and maximum wait); ``server_vad`` waits for
    ``silence_ms`` of silence (default ``BRIDGE_VAD_SILENCE_MS``)."""

    type: Literal["server_vad", "semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    silence_ms: int | None = Field(default=None, ge=32, le=10_000)


class Prompted(Strict):
    """Nodes that ask and wait: retries with escalating prompts, then a fallback."""

    prompt: str = ""
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    no_input: list[str] = Field(default_factory=list)  # said on each silent attempt, in turn
    no_match: list[str] = Field(default_factory=list)  # said on each wrong answer, in turn
    fallback: Target | None = None  # where to go when retries run out (else hang up)
    barge_in: bool = True
    turn_detection: TurnDetection | None = None


class Say(Strict):
    type: Literal["say"]
    text: str = ""
    audio: str | None = None  # a WAV file to play instead of text
    barge_in: bool = True
    next: Target | None = None


class Gather(Prompted):
    type: Literal["gather"]
    input: Literal["dtmf", "speech", "both"] = "both"
    digits: int | None = Field(default=None, ge=1, le=64)  # stop after this many
    finish_key: str | None = "#"
    inter_digit_timeout_s: float = Field(default=3.0, gt=0, le=60)
    pattern: str | None = None  # a regular expression the answer must match
    variable: str = "input"
    next: Target


class MenuOption(Strict):
    keys: str | None = None
    phrases: list[str] = Field(default_factory=list)
    goto: Target


class Menu(Prompted):
    type: Literal["menu"]
    input: Literal["dtmf", "speech", "both"] = "both"
    options: list[MenuOption] = Field(min_length=1)


class Condition(Strict):
    if_: str = Field(alias="if")
    goto: Target

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Branch(Strict):
    type: Literal["branch"]
    conditions: list[Condition] = Field(min_length=1)
    default: Target = Field(alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Hours(Strict):
    type: Literal["hours"]
    timezone: str = "UTC"
    open: dict[str, str]  # "mon-fri": "09:00-17:00", "sat": "10:00-14:00"
    holidays: list[str] = Field(default_factory=list)  # ISO dates
    open_goto: Target
    closed_goto: Target

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class SetVariables(Strict):
    type: Literal["set"]
    values: dict[str, Any]
    next: Target


class Http(Strict):
    type: Literal["http"]
    url: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None  # templated JSON
    save: dict[str, str] = Field(default_factory=dict)  # variable -> dotted path in the reply
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    next: Target
    on_error: Target


class Transfer(Strict):
    type: Literal["transfer"]
    target: str  # a number or sip: URI (templated)
    text: str = ""  # said before transferring
    # When the transfer cannot be made (no call control for this carrier, or the carrier
    # refused): said to the caller, then the flow goes on at `on_error`, else back to the
    # menu, gather or agent the caller came from (else it hangs up).
    error_text: str = "I'm sorry, I can't transfer you right now."
    on_error: Target | None = None


class Hangup(Strict):
    type: Literal["hangup"]
    text: str = ""  # said before hanging up


class Record(Strict):
    type: Literal["record"]
    prompt: str = ""
    max_s: float = Field(default=60.0, gt=0, le=3600)
    silence_s: float = Field(default=3.0, gt=0, le=60)  # this much silence ends the message
    variable: str = "recording"
    next: Target


class WebhookTool(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    url: str
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class Agent(Strict):
    type: Literal["agent"]
    instructions: str = ""
    greeting: str = ""  # said when the agent takes over
    tools: list[WebhookTool] = Field(default_factory=list)
    exits: list[Target] = Field(default_factory=list)  # nodes the agent may go to (goto_node)
    max_turns: int = Field(default=20, ge=1, le=200)
    turn_detection: TurnDetection | None = None
    next: Target | None = None  # where to go after max_turns (else hang up)


Node = Annotated[
    Say | Gather | Menu | Branch | Hours | SetVariables | Http | Transfer | Hangup | Record | Agent,
    Field(discriminator="type"),
]


class GlobalHandler(Strict):
    """Active in every prompting node: a key or a phrase jumps to ``goto``."""

    keys: str | None = None
    phrases: list[str] = Field(default_factory=list)
    goto: Target


class Route(Strict):
    """Which calls this dialplan answers: called numbers, or a carrier parameter's value."""

    numbers: list[str] = Field(default_factory=list)
    parameter: dict[str, str] = Field(default_factory=dict)


class Dialplan(Strict):
    name: str
    description: str = ""
    start: Target
    variables: dict[str, Any] = Field(default_factory=dict)
    globals: list[GlobalHandler] = Field(default_factory=list)
    route: Route = Field(default_factory=Route)
    nodes: dict[str, Node] = Field(min_length=1)


def targets_of(node: Any) -> list[tuple[str, str]]:
    """(field, target) pairs of a node, in a stable order."""
    pairs: list[tuple[str, str]] = []
    for field in ("next", "fallback", "open_goto", "closed_goto", "on_error", "default"):
        value = getattr(node, field, None)
        if isinstance(value, str):
            pairs.append((field, value))
    for index, option in enumerate(getattr(node, "options", []) or []):
        pairs.append((f"options[{index}].goto", option.goto))
    for index, condition in enumerate(getattr(node, "conditions", []) or []):
        pairs.append((f"conditions[{index}].goto", condition.goto))
    for index, target in enumerate(getattr(node, "exits", []) or []):
        pairs.append((f"exits[{index}]", target))
    return pairs
