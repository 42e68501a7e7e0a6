"""The dialplan interpreter on a real Call with fake engines, in virtual time (see
``tests/call_harness.py``): menus, gathers, retries, business hours and barge-in, in
milliseconds. ``test_flows.py`` runs the same kinds of flow on the real models."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from call_harness import (
    BYTES_PER_MS,
    FRAME_BYTES,
    eventually,
    phone_call,
    settings,
    virtual,
)

from bridge.calls.call import Call
from bridge.dialplan.calls import call_flow
from bridge.dialplan.check import check_text
from bridge.dialplan.routing import DialplanRouter
from bridge.engine import events as ev
from bridge.engine.items import AudioPart, MessageItem
from bridge.testing.fakes import Fakes

MONDAY_NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # noon in New York
SUNDAY_NOON = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def flow(text: str, now: datetime = MONDAY_NOON) -> Callable[[Call], Awaitable[Any]]:
    """The call's flow as the bridge builds it, with ``text`` as the default dialplan."""
    plan, problems = check_text(text, "test.yaml")
    assert plan is not None, problems
    assert not [p for p in problems if not p.warning], problems
    return call_flow(DialplanRouter([], plan), settings(), now=lambda: now)


def wire_ms(audio: bytes) -> float:
    return (len(audio) + -len(audio) % FRAME_BYTES) / BYTES_PER_MS


MENU = """
name: menu-test
start: welcome
globals:
  - keys: "0"
    phrases: [operator]
    goto: operator
nodes:
  welcome:
    type: say
    text: Welcome to the test line.
    next: menu
  menu:
    type: menu
    prompt: For sales press one. For support press two or say support.
    timeout_s: 4
    retries: 1
    no_input: [I did not hear anything. Press one or two.]
    no_match: [That is not an option. Press one or two.]
    fallback: goodbye
    options:
      - {keys: "1", phrases: [sales], goto: sales}
      - {keys: "2", phrases: [support, help], goto: pick_support}
  pick_support:
    type: set
    values: {department: support}
    next: route
  route:
    type: branch
    conditions:
      - {if: "department == 'support'", goto: support}
    else: sales
  support:
    type: hangup
    text: Connecting you to {{department}}. Goodbye.
  sales:
    type: hangup
    text: Sales is closed today.
  operator:
    type: hangup
    text: The operator is busy.
  goodbye:
    type: hangup
    text: Sorry, goodbye.
"""
WELCOME = "Welcome to the test line."
MENU_PROMPT = "For sales press one. For support press two or say support."


@virtual
async def test_menu_key_sets_a_variable_branches_and_hangs_up_after_the_goodbye() -> None:
    fakes = Fakes()
    async with phone_call(fakes, controller=flow(MENU)) as line:
        await line.said_and_played(MENU_PROMPT)
        line.phone.press("2")
        await line.ended()

    assert line.said() == [WELCOME, MENU_PROMPT, "Connecting you to support. Goodbye."]
    assert line.control.actions == [("hangup", "")]
    # The goodbye was heard to its end before the line was put down.
    assert line.control.times[0] >= line.phone.audio_end
    assert fakes.llm.requests == []  # the menu took the key: nothing reached an agent
    # Nor did it reach the conversation as text: only the prompts are in it.
    assert {e.item.role for e in line.of(ev.ConversationItemAdded)} == {"assistant"}


@virtual
async def test_menu_global_key_jumps_from_the_prompt() -> None:
    async with phone_call(Fakes(), controller=flow(MENU)) as line:
        await line.said_and_played(MENU_PROMPT)
        line.phone.press("0")
        await line.ended()
    assert line.said()[-1] == "The operator is busy."


@virtual
async def test_menu_by_speech() -> None:
    fakes = Fakes()
    fakes.stt.transcripts.append("Support, please.")
    async with phone_call(fakes, controller=flow(MENU)) as line:
        await line.said_and_played(MENU_PROMPT)
        await line.phone.speak(500, silence_ms=700)
        await line.ended()
    assert line.said()[-1] == "Connecting you to support. Goodbye."
    assert fakes.llm.requests == []


@virtual
async def test_menu_no_match_then_silence_until_the_timeout_then_the_fallback() -> None:
    async with phone_call(Fakes(), controller=flow(MENU)) as line:
        await line.said_and_played(MENU_PROMPT)
        line.phone.press("7")
        await line.said_and_played("That is not an option. Press one or two.")
        listening_from = line.phone.audio_end  # the retry listens once the prompt has played
        await line.ended()

    assert line.said()[2:] == ["That is not an option. Press one or two.", "Sorry, goodbye."]
    goodbye = line.of(ev.ResponseCreated)[-1]
    # Nothing was said during the retry's four seconds; then the fallback, at once.
    assert abs(line.at(goodbye) - (listening_from + 4.0)) < 1e-6
    assert line.control.actions == [("hangup", "")]


RETRIES = """
name: retries-test
start: ask
nodes:
  ask:
    type: menu
    prompt: Press one to continue.
    input: dtmf
    timeout_s: 3
    retries: 2
    no_input: ["Sorry, I heard nothing. Press one.", "Last try. Press the one key now."]
    fallback: bye
    options:
      - {keys: "1", goto: done}
  done: {type: hangup, text: Thank you.}
  bye: {type: hangup, text: We will try again later.}
"""


@virtual
async def test_silence_escalates_through_the_no_input_prompts_then_falls_back() -> None:
    async with phone_call(Fakes(), controller=flow(RETRIES)) as line:
        await line.ended(within_s=120)

    assert line.said() == [
        "Press one to continue.",
        "Sorry, I heard nothing. Press one.",
        "Last try. Press the one key now.",
        "We will try again later.",
    ]
    # Each prompt after the first comes exactly timeout_s after the one before finished
    # playing: the listening starts when the caller has heard the prompt.
    created = [line.at(e) for e in line.of(ev.ResponseCreated)]
    lengths = [wire_ms(b"".join(line.deltas(e.response.id))) for e in line.of(ev.ResponseDone)]
    for index in range(1, 4):
        played_until = created[index - 1] + lengths[index - 1] / 1000
        assert abs(created[index] - (played_until + 3.0)) < 0.005, index
    assert line.control.actions == [("hangup", "")]


GATHER = """
name: gather-test
start: ask
nodes:
  ask:
    type: gather
    prompt: Please say your favourite colour, or key its number.
    input: both
    timeout_s: 5
    variable: colour
    next: thanks
  thanks:
    type: hangup
    text: "Thank you. {{colour}} it is, by {{colour_via}}."
"""


@virtual
async def test_gather_takes_the_transcript_of_what_the_caller_said() -> None:
    fakes = Fakes()
    fakes.stt.transcripts.append("Dark blue.")
    async with phone_call(fakes, controller=flow(GATHER)) as line:
        await line.said_and_played("Please say your favourite colour, or key its number.")
        await line.phone.speak(600, silence_ms=700)
        await line.ended()

    # The variable holds the transcript without its closing punctuation, and how it came.
    assert line.said()[-1] == "Thank you. Dark blue it is, by speech."
    assert fakes.stt.results == ["Dark blue."]
    assert fakes.llm.requests == []
    (transcribed,) = line.of(ev.InputAudioTranscriptionCompleted)
    assert transcribed.transcript == "Dark blue."


HOURS = """
name: hours-test
start: check
nodes:
  check:
    type: hours
    timezone: America/New_York
    open: {mon-fri: "09:00-17:00"}
    holidays: ["2026-12-25"]
    open_goto: open
    closed_goto: closed
  open: {type: hangup, text: "Good news, the office is open right now."}
  closed: {type: hangup, text: "Sorry, the office is closed at the moment."}
"""


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (MONDAY_NOON, "Good news, the office is open right now."),
        (SUNDAY_NOON, "Sorry, the office is closed at the moment."),
        (datetime(2026, 12, 25, 17, 0, tzinfo=UTC), "Sorry, the office is closed at the moment."),
    ],
    ids=["monday-noon", "sunday-noon", "christmas-noon"],
)
@virtual
async def test_hours_node_asks_the_injected_clock(moment: datetime, expected: str) -> None:
    async with phone_call(Fakes(), controller=flow(HOURS, now=moment)) as line:
        await line.ended()
    assert line.said() == [expected]


NOTICE = (
    "This call may be recorded for training and quality purposes. "
    "Our terms have changed since your last call, so please listen carefully."
)
SAY = f"""
name: say-test
start: notice
nodes:
  notice:
    type: say
    text: {NOTICE}
    barge_in: BARGE_IN
    next: bye
  bye: {{type: hangup, text: Goodbye.}}
"""


@pytest.mark.parametrize("barge_in", [False, True], ids=["barge-in-off", "barge-in-on"])
@virtual
async def test_say_keeps_playing_over_the_caller_only_when_barge_in_is_off(
    barge_in: bool,
) -> None:
    plan = SAY.replace("BARGE_IN", str(barge_in).lower())
    async with phone_call(Fakes(), controller=flow(plan)) as line:
        await eventually(lambda: len(line.phone.echoed) >= 2)  # some of it has played
        await line.phone.speak(400, silence_ms=600)  # the caller talks over the notice
        await line.ended()

    notice, bye = line.of(ev.ResponseDone)
    (started,) = line.of(ev.InputAudioBufferSpeechStarted)
    notice_audio = b"".join(line.deltas(notice.response.id))
    item = notice.response.output[0]
    assert isinstance(item, MessageItem)
    part = item.content[0]
    assert isinstance(part, AudioPart)
    next_node = line.at(line.of(ev.ResponseCreated)[1])
    notice_start = line.phone.of("media")[0].at
    assert notice.response.status == "completed"  # generated in full before the caller spoke
    if barge_in:
        # Cut off: Twilio cleared the moment the caller spoke, the notice was truncated to
        # what had been heard, and the flow went on to its next node at once.
        (clear,) = line.phone.of("clear")
        assert clear.at == line.at(started) == next_node
        (truncated,) = line.of(ev.ConversationItemTruncated)
        # The phone played without a gap from its first frame, so it heard all up to the
        # clear; the bridge knows that from the marks to within a frame (a mark is sent after
        # the whole frames of the audio before it, and the last partial one follows it).
        assert abs(truncated.audio_end_ms - (clear.at - notice_start) * 1000) < 20
        assert 0 < truncated.audio_end_ms < wire_ms(notice_audio)
        assert part.audio == notice_audio[: truncated.audio_end_ms * BYTES_PER_MS]
        assert part.transcript != NOTICE
        assert NOTICE.startswith(part.transcript)
    else:
        # Played to its end over the caller's speech, and only then the next node.
        assert line.phone.of("clear") == []
        assert line.of(ev.ConversationItemTruncated) == []
        assert part.transcript == NOTICE
        assert next_node >= notice_start + wire_ms(notice_audio) / 1000 - 1e-6
        assert line.at(started) < next_node - 0.5  # the caller spoke well before its end
        assert len(line.phone.audio(until=next_node)) == wire_ms(notice_audio) * BYTES_PER_MS
    assert bye.response.status == "completed"
    assert line.said()[-1] == "Goodbye."
