"""Dialplans run on real calls: Piper speech and DTMF in through a carrier protocol, the
bridge's prompts out, transcribed. Every node type and the retry and timeout paths."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningBridge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge.caller.caller import Listen, Press, Say, SimulatedCaller, Step, TurnReport
from bridge.caller.dial import dial_websocket
from bridge.caller.wires import telnyx_wire, twilio_wire
from bridge.dialplan.calls import call_flow
from bridge.dialplan.check import check_text
from bridge.dialplan.routing import DialplanRouter
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.llm_server import Reply, Rule, ScriptedLLM, ScriptedToolCall
from bridge.testing.serve import serve_app
from bridge.testing.speech import contains_phrase, word_error_rate

pytestmark = pytest.mark.slow
MONDAY_NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # noon in New York
SUNDAY_NOON = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)


def use_plan(
    bridge: RunningBridge, text: str, now: datetime = MONDAY_NOON, **settings: Any
) -> None:
    plan, problems = check_text(text, "test.yaml")
    assert plan is not None, problems
    assert not [p for p in problems if not p.warning], problems
    bridge.configure(**settings)
    runtime = bridge.app.state.runtime
    runtime.router = DialplanRouter([], plan)
    runtime.call_flow = call_flow(runtime.router, bridge.settings, now=lambda: now)


async def dial(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, steps: list[Step], wire: Any = None
) -> tuple[list[TurnReport], SimulatedCaller]:
    wire = wire or twilio_wire()
    path = (
        "/twilio/media" if wire.media.encoding == "pcmu" and not wire.headers else "/telnyx/media"
    )
    url = bridge.url.replace("http://", "ws://") + path
    async with dial_websocket(url, headers=wire.headers) as transport:
        caller = SimulatedCaller(wire, transport, tts=piper, stt=stt, reply_timeout_s=20)
        reports = await caller.run(steps)
    return reports, caller


def heard(report: TurnReport, expected: str) -> bool:
    return word_error_rate(expected, report.heard) <= 0.3


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


async def test_menu_by_keypad_set_branch_and_hangup(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    use_plan(bridge, MENU)
    reports, caller = await dial(bridge, piper, stt, [Listen(), Press("2")])
    assert heard(
        reports[0],
        "Welcome to the test line. For sales press one. For support press two or say support.",
    )
    assert heard(reports[1], "Connecting you to support. Goodbye.")
    assert caller.state.hung_up


async def test_menu_by_speech(bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText) -> None:
    use_plan(bridge, MENU)
    reports, _ = await dial(bridge, piper, stt, [Listen(), Say("Support please.")])
    assert heard(reports[1], "Connecting you to support. Goodbye.")


async def test_menu_no_match_then_no_input_then_fallback(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    use_plan(bridge, MENU)
    reports, caller = await dial(bridge, piper, stt, [Listen(), Press("7"), Listen(timeout_s=15)])
    assert heard(reports[1], "That is not an option. Press one or two.")
    assert heard(reports[2], "Sorry, goodbye.")  # the retry timed out: fallback
    assert caller.state.hung_up


async def test_global_handler_jumps_from_any_prompt(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    use_plan(bridge, MENU)
    reports, _ = await dial(bridge, piper, stt, [Listen(), Press("0")])
    assert heard(reports[1], "The operator is busy.")


PIN = """
name: pin-test
start: pin
variables: {api: "http://127.0.0.1:1/none"}
nodes:
  pin:
    type: gather
    prompt: Enter your four digit pin, then press hash.
    input: dtmf
    digits: 4
    finish_key: "#"
    pattern: '^\\d{4}$'
    timeout_s: 4
    inter_digit_timeout_s: 3
    retries: 1
    no_match: [That pin is too short. Enter four digits.]
    variable: pin
    fallback: goodbye
    next: lookup
  lookup:
    type: http
    url: "{{api}}"
    body: {pin: "{{pin}}", caller: "{{caller}}"}
    save: {balance: account.balance}
    next: balance
    on_error: failed
  balance:
    type: hangup
    text: Your balance is {{balance}} dollars.
  failed:
    type: hangup
    text: Our systems are down.
  goodbye:
    type: hangup
    text: Goodbye.
"""


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    seen: list[dict[str, Any]] = []

    async def balance(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append(body)
        return JSONResponse({"account": {"balance": 42}})

    app = Starlette(routes=[Route("/balance", balance, methods=["POST"])])
    async with serve_app(app) as url:
        yield seen, f"{url}/balance"


async def test_gather_pin_with_retry_and_http_lookup(
    bridge: RunningBridge,
    piper: PiperTTS,
    stt: SpeechToText,
    webhook: tuple[list[dict[str, Any]], str],
) -> None:
    seen, url = webhook
    use_plan(bridge, PIN.replace("http://127.0.0.1:1/none", url))
    reports, _ = await dial(bridge, piper, stt, [Listen(), Press("12#"), Press("4321#")])
    assert heard(reports[1], "That pin is too short. Enter four digits.")
    assert heard(reports[2], "Your balance is 42 dollars.")
    assert seen == [{"pin": "4321", "caller": ""}]


async def test_http_failure_takes_the_error_branch(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    use_plan(bridge, PIN)  # the API address refuses connections
    reports, _ = await dial(bridge, piper, stt, [Listen(), Press("4321#")])
    assert heard(reports[1], "Our systems are down.")


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
    ("now", "expected"),
    [
        (MONDAY_NOON, "Good news, the office is open right now."),
        (SUNDAY_NOON, "Sorry, the office is closed at the moment."),
    ],
)
async def test_business_hours_with_an_injected_clock(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, now: datetime, expected: str
) -> None:
    use_plan(bridge, HOURS, now=now)
    (report,), _ = await dial(bridge, piper, stt, [Listen()])
    assert heard(report, expected)


RECORD = """
name: voicemail-test
start: record
nodes:
  record:
    type: record
    prompt: Please leave a message.
    max_s: 20
    silence_s: 1.5
    next: thanks
  thanks:
    type: transfer
    text: Thanks. Transferring you.
    target: "+15550100"
"""


async def test_record_voicemail_then_transfer_through_call_control(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, tmp_path: Path
) -> None:
    seen: list[str] = []

    async def actions(request: Request) -> JSONResponse:
        seen.append(request.url.path + " " + (await request.body()).decode())
        return JSONResponse({})

    api = Starlette(routes=[Route("/{p:path}", actions, methods=["POST"])])
    async with serve_app(api) as api_url:
        use_plan(
            bridge,
            RECORD,
            recordings_dir=str(tmp_path),
            telnyx_api_key="KEY",
            telnyx_api_url=api_url,
        )
        wire = telnyx_wire()
        wire.headers = {"x": "telnyx"}  # selects the Telnyx route in dial()
        reports, _ = await dial(
            bridge, piper, stt, [Listen(), Say("Please call me back about my order.")], wire
        )
    assert heard(reports[1], "Thanks. Transferring you.")
    (wav,) = list(tmp_path.glob("*.wav"))  # noqa: ASYNC240
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["dialplan"] == "voicemail-test"
    assert meta["duration_s"] > 1.5
    import wave

    from bridge.audio import StreamResampler

    with wave.open(str(wav)) as w:
        pcm = w.readframes(w.getnframes())
    said = (await stt.transcribe(StreamResampler(8000, 16000).process(pcm))).text
    assert word_error_rate("Please call me back about my order.", said) <= 0.3, said
    call_control_id = wire.side.call_control_id
    assert seen == [f'/v2/calls/{call_control_id}/actions/transfer {{"to":"+15550100"}}']


AGENT = """
name: agent-test
start: hello
nodes:
  hello:
    type: say
    text: Hi, this is the account assistant.
    next: assistant
  assistant:
    type: agent
    instructions: You help callers with their account.
    tools:
      - name: get_balance
        description: The caller's balance
        url: "WEBHOOK"
        parameters: {type: object, properties: {account: {type: string}}}
    exits: [goodbye]
    max_turns: 4
    next: goodbye
  goodbye:
    type: hangup
    text: Goodbye from the menu.
"""


@pytest.fixture
def llm_script() -> ScriptedLLM:
    def answer_with_balance(messages: list[dict[str, Any]]) -> Reply:
        result = json.loads(messages[-1]["content"])
        return Reply(f"Your balance is {result['account']['balance']} dollars.")

    return ScriptedLLM(
        rules=[
            Rule(
                "balance", Reply(tool_calls=(ScriptedToolCall("get_balance", {"account": "77"}),))
            ),
            Rule("account", answer_with_balance, role="tool"),
            Rule(
                "menu|bye",
                Reply("Sure.", tool_calls=(ScriptedToolCall("goto_node", {"node": "goodbye"}),)),
            ),
        ],
        default=Reply("Sorry?"),
    )


async def test_agent_node_calls_a_webhook_tool_and_speaks_its_result(
    bridge: RunningBridge,
    piper: PiperTTS,
    stt: SpeechToText,
    webhook: tuple[list[dict[str, Any]], str],
) -> None:
    seen, url = webhook
    use_plan(bridge, AGENT.replace("WEBHOOK", url))
    reports, caller = await dial(
        bridge,
        piper,
        stt,
        [Listen(), Say("What is my balance?"), Say("Take me back to the menu, bye.")],
    )
    assert heard(reports[1], "Your balance is 42 dollars.")
    assert seen == [{"account": "77"}]
    assert contains_phrase(reports[2].heard, "goodbye from the menu")
    assert caller.state.hung_up
    tools = {t["function"]["name"] for t in bridge.llm.requests[0]["tools"]}
    assert {"get_balance", "goto_node", "end_call", "transfer_call"} <= tools


async def test_shipped_reception_works_without_an_llm(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    reception = (Path(__file__).parents[2] / "dialplans" / "reception.yaml").read_text()
    use_plan(  # Monday, London; no LLM configured
        bridge,
        reception,
        now=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        llm_base_url="https://api.openai.com/v1",
    )
    reports, _ = await dial(bridge, piper, stt, [Listen(timeout_s=15), Press("3")])
    assert contains_phrase(reports[0].heard, "sales")
    assert not contains_phrase(reports[0].heard, "assistant")  # no LLM: no AI receptionist offered
    assert contains_phrase(reports[1].heard, "monday to friday")
    assert not bridge.llm.requests


async def test_reception_offers_the_agent_when_an_llm_is_configured(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, tmp_path: Path
) -> None:
    import wave

    chime = tmp_path / "chime.wav"
    with wave.open(str(chime), "wb") as out:  # a recorded prompt for a `say` node with audio
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(piper.synthesize_sync("Recorded welcome message."))
    reception = (Path(__file__).parents[2] / "dialplans" / "reception.yaml").read_text()
    reception = reception.replace(
        "    text: Thank you for calling {{company}}.", f"    audio: {chime}", 1
    )
    use_plan(  # an LLM configured (the engine has its own)
        bridge,
        reception,
        now=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        llm_base_url="http://127.0.0.1:1/v1",
    )
    reports, _ = await dial(
        bridge, piper, stt, [Listen(timeout_s=15), Press("9"), Say("When are you open?")]
    )
    assert contains_phrase(reports[0].heard, "recorded welcome message")
    assert contains_phrase(reports[0].heard, "assistant")
    assert contains_phrase(reports[1].heard, "virtual receptionist")
    assert contains_phrase(reports[2].heard, "sorry")  # this module's scripted LLM answers "Sorry?"
    conversation = bridge.llm.requests[-1]["messages"]
    assert conversation[0]["content"].startswith("You are the friendly receptionist of Example")
    users = [m["content"] for m in conversation if m["role"] == "user"]
    assert len(users) == 1  # the menu's "9" did not leak into the agent as a keypad message
    assert "open" in users[0].lower()
    assert conversation[-1]["content"] == "When are you open?"


GATHER_SPEECH = """
name: gather-speech-test
start: city
nodes:
  city:
    type: gather
    prompt: Which city are you calling from?
    input: speech
    timeout_s: 6
    variable: city
    next: code
  code:
    type: gather
    prompt: Enter your branch code.
    input: dtmf
    digits: 4
    finish_key: null
    inter_digit_timeout_s: 1.5
    variable: code
    next: done
  done:
    type: hangup
    text: Thank you, caller from {{city}}, branch {{code}}.
"""


async def test_gather_by_speech_and_digits_ended_by_the_inter_digit_timeout(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    use_plan(bridge, GATHER_SPEECH)
    reports, _ = await dial(bridge, piper, stt, [Listen(), Say("Paris."), Press("12")])
    assert heard(reports[1], "Enter your branch code.")
    assert heard(reports[2], "Thank you, caller from Paris, branch 12.")
