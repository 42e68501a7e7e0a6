"""Phone-call behaviour through a real carrier protocol: barge-in, DTMF, call control, dropped
sockets, signatures and many calls at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets
from conftest import LONG_STORY, RunningBridge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge.caller.caller import Listen, Press, Say, SimulatedCaller
from bridge.caller.dial import dial_tcp, dial_websocket
from bridge.caller.wires import audiosocket_wire, twilio_wire
from bridge.carriers.twilio import twilio_signature
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.testing.serve import serve_app
from bridge.testing.speech import contains_phrase, word_error_rate

pytestmark = pytest.mark.slow
HOURS = "We are open from nine in the morning until five in the evening."
STORY = LONG_STORY
TOKEN = "twilio-auth-token"


class RestRecorder:
    """A local stand-in for a carrier's REST API that records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def app(self) -> Starlette:
        async def record(request: Request) -> JSONResponse:
            form = dict(await request.form()) if request.method != "DELETE" else {}
            self.requests.append(
                (request.method, request.url.path, {k: str(v) for k, v in form.items()})
            )
            return JSONResponse({"sid": "CA1", "status": "completed"})

        return Starlette(routes=[Route("/{path:path}", record, methods=["POST", "DELETE"])])


@pytest.fixture
async def rest() -> AsyncIterator[tuple[RestRecorder, str]]:
    recorder = RestRecorder()
    async with serve_app(recorder.app()) as url:
        yield recorder, url


@pytest.fixture
def bridge_settings(request: pytest.FixtureRequest) -> Settings:
    extra = getattr(request, "param", {})
    return Settings(greeting="", audiosocket_port=0, default_dialplan="agent", **extra)


def media_url(bridge: RunningBridge, path: str = "/twilio/media") -> str:
    return bridge.url.replace("http://", "ws://") + path


@contextlib.asynccontextmanager
async def twilio_call(
    bridge: RunningBridge, signed: bool = False
) -> AsyncIterator[websockets.ClientConnection]:
    url = media_url(bridge)
    headers = {"X-Twilio-Signature": twilio_signature(TOKEN, url)} if signed else None
    async with dial_websocket(url, headers=headers) as transport:
        yield transport  # type: ignore[misc]


async def test_barge_in_clears_within_300_ms_and_history_keeps_what_was_heard(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async with twilio_call(bridge) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=stt)
        story, interruption, _ = await caller.run(
            [
                Say("Please tell me a long story.", wait="start"),
                Say("Stop, please wait.", barge_in_after_ms=2000),
                Say("When are you open?"),
            ]
        )
    assert interruption.clear_ms is not None
    assert interruption.clear_ms <= 300, interruption.clear_ms
    history = bridge.llm.requests[-1]["messages"]
    told = [m["content"] for m in history if m["role"] == "assistant" and m.get("content")]
    assert told, history
    heard = told[0]
    assert STORY.startswith(heard)
    assert 0 < len(heard.split()) < len(STORY.split()) / 2  # only the ~2 s that played
    # `bridge call` prints what the caller heard of the cut reply, not '(silence)'.
    assert story.cut_off
    assert story.heard.split()[:2] == STORY.split()[:2], story.heard


async def test_dtmf_reaches_the_agent_as_text(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async with twilio_call(bridge) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=stt)
        (report,) = await caller.run([Press("42#")])
    assert report.latency_ms is not None  # the agent answered the digits
    last = bridge.llm.requests[-1]["messages"][-1]
    assert last == {"role": "user", "content": "[The caller pressed 4 2 # on the keypad]"}


@pytest.mark.parametrize(
    "bridge_settings", [{"twilio_auth_token": TOKEN, "twilio_account_sid": "AC1"}], indirect=True
)
async def test_agent_hangup_and_transfer_become_twilio_rest_requests(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText, rest: tuple[RestRecorder, str]
) -> None:
    recorder, url = rest
    bridge.configure(twilio_api_url=url)
    wire = twilio_wire()
    async with twilio_call(bridge, signed=True) as transport:
        caller = SimulatedCaller(wire, transport, tts=piper, stt=stt)
        await caller.run([Say("Can I talk to an operator?"), Say("Thanks, goodbye.")])
    path = f"/2010-04-01/Accounts/AC1/Calls/{wire.side.call_sid}.json"
    assert recorder.requests == [
        ("POST", path, {"Twiml": "<Response><Dial><Number>+15550100</Number></Dial></Response>"}),
        ("POST", path, {"Status": "completed"}),
    ]


async def test_audiosocket_hangup_is_the_protocols_hangup_frame(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    port = bridge.app.state.runtime.audiosocket_port
    async with dial_tcp("127.0.0.1", port) as transport:
        caller = SimulatedCaller(audiosocket_wire(), transport, tts=piper, stt=stt)
        (goodbye,) = await caller.run([Say("Goodbye.")])
        assert caller.state.hung_up
    assert contains_phrase(goodbye.heard, "thank you for calling")


async def test_socket_dropped_mid_reply_ends_the_call_without_leaking_tasks(
    bridge: RunningBridge, piper: PiperTTS
) -> None:
    runtime = bridge.app.state.runtime
    wire = twilio_wire()
    async with dial_websocket(media_url(bridge)) as transport:
        caller = SimulatedCaller(wire, transport, tts=piper, stt=None, reply_timeout_s=20)
        run = asyncio.create_task(caller.run([Say("Please tell me a long story.")]))
        while not caller.state.arrivals:  # the reply is playing
            await caller._ticks(1)
        assert len(runtime.calls) == 1
        transport._ws.transport.abort()  # type: ignore[attr-defined]  # the TCP link just dies
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run
    async with asyncio.timeout(10):
        await runtime.calls.wait_empty()
    assert runtime.sessions == 0
    leftovers = [
        t
        for t in asyncio.all_tasks()
        if any(name in repr(t.get_coro()) for name in ("Call.", "LocalConversation", "ResponseRun"))
    ]
    assert not leftovers


async def test_ten_simultaneous_calls_get_correct_replies(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async def one_call(index: int) -> str:
        async with dial_websocket(media_url(bridge)) as transport:
            wire = twilio_wire({"From": f"+1555000{index:04d}"})
            caller = SimulatedCaller(wire, transport, tts=piper, stt=stt, reply_timeout_s=60)
            (answer,) = await caller.run([Say("When are you open?")])
        return answer.heard

    heard = await asyncio.gather(*(one_call(i) for i in range(10)))
    assert all(word_error_rate(HOURS, text) <= 0.25 for text in heard), heard


@pytest.mark.parametrize("bridge_settings", [{"twilio_auth_token": TOKEN}], indirect=True)
async def test_twilio_signatures_are_checked_on_webhook_and_upgrade(bridge: RunningBridge) -> None:
    form = {"CallSid": "CA9", "From": "+15551112222", "To": "+15553334444"}
    webhook = f"{bridge.url}/twilio/voice"
    async with httpx.AsyncClient() as http:
        bad = await http.post(webhook, data=form, headers={"X-Twilio-Signature": "bogus"})
        good = await http.post(
            webhook,
            data=form,
            headers={"X-Twilio-Signature": twilio_signature(TOKEN, webhook, form)},
        )
    assert bad.status_code == 403
    assert good.status_code == 200
    stream = media_url(bridge)
    assert f'<Stream url="{stream}">' in good.text
    assert '<Parameter name="From" value="+15551112222"/>' in good.text
    with pytest.raises(websockets.InvalidStatus, match="403"):
        async with websockets.connect(stream, additional_headers={"X-Twilio-Signature": "bogus"}):
            pass
    async with twilio_call(bridge, signed=True) as transport:
        await transport.send(twilio_wire().opening()[0])  # accepted: the socket is open


async def test_greeting_is_spoken_when_configured(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    bridge.configure(greeting="Welcome to the test line.")
    async with twilio_call(bridge) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=stt)
        (greeting,) = await caller.run([Listen()])
    assert word_error_rate("Welcome to the test line.", greeting.heard) <= 0.25


async def test_relay_mode_bridges_the_call_to_an_upstream_realtime_server(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    # The upstream is this same bridge's /v1/realtime: the call's audio goes out over the
    # realtime protocol as G.711, and the upstream's answer comes back to the caller.
    bridge.configure(relay_url=f"{bridge.ws_url}/realtime?model=gpt-realtime")
    async with twilio_call(bridge) as transport:
        caller = SimulatedCaller(twilio_wire(), transport, tts=piper, stt=stt)
        (answer,) = await caller.run([Say("When are you open?")])
    assert word_error_rate(HOURS, answer.heard) <= 0.25, answer.heard
    assert len(bridge.llm.requests) == 1  # one LLM call: made by the upstream session
