"""Call control requests against a local stand-in for each carrier's REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.calls.control import (
    ControlFailed,
    ControlUnsupported,
    InBandControl,
    PlivoControl,
    TelnyxControl,
    TwilioControl,
    dial_twiml,
)
from bridge.carriers.base import Frame
from bridge.config import Settings
from bridge.testing.serve import serve_app


class Recorder:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[tuple[str, str, str, str]] = []

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            body = (await request.body()).decode()
            auth = request.headers.get("authorization", "")
            self.seen.append((request.method, request.url.path, body, auth))
            return JSONResponse({}, status_code=self.status)

        return Starlette(routes=[Route("/{p:path}", record, methods=["POST", "DELETE"])])


@pytest.fixture
async def api() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    async with serve_app(recorder.app()) as url:
        yield recorder, url


async def test_telnyx_actions(api: tuple[Recorder, str]) -> None:
    recorder, url = api
    control = TelnyxControl(Settings(telnyx_api_key="KEY", telnyx_api_url=url).control, "v3:abc")
    await control.transfer("sip:agent@example.com")
    await control.send_dtmf("12#")
    await control.hangup()
    assert [(m, p, b) for m, p, b, _ in recorder.seen] == [
        ("POST", "/v2/calls/v3:abc/actions/transfer", '{"to":"sip:agent@example.com"}'),
        ("POST", "/v2/calls/v3:abc/actions/send_dtmf", '{"digits":"12#"}'),
        ("POST", "/v2/calls/v3:abc/actions/hangup", "{}"),
    ]
    assert {auth for *_, auth in recorder.seen} == {"Bearer KEY"}


async def test_plivo_actions(api: tuple[Recorder, str]) -> None:
    recorder, url = api
    settings = Settings(plivo_auth_id="MA1", plivo_auth_token="t", plivo_api_url=url)
    control = PlivoControl(settings.control, "uuid-1", "https://bridge.example.com/plivo/transfer")
    await control.send_dtmf("9")
    await control.transfer("+15550100")
    await control.hangup()
    (m1, p1, b1, a1), (m2, p2, b2, _), (m3, p3, _, _) = recorder.seen
    assert (m1, p1, b1) == ("POST", "/v1/Account/MA1/Call/uuid-1/DTMF/", "digits=9")
    assert a1.startswith("Basic ")
    assert (m2, p2) == ("POST", "/v1/Account/MA1/Call/uuid-1/")
    assert "aleg_url=https%3A%2F%2Fbridge.example.com%2Fplivo%2Ftransfer%3Fto%3D%252B15550100" in b2
    assert (m3, p3) == ("DELETE", "/v1/Account/MA1/Call/uuid-1/")


async def test_twilio_actions_and_limits(api: tuple[Recorder, str]) -> None:
    recorder, url = api
    settings = Settings(twilio_account_sid="AC1", twilio_auth_token="tok", twilio_api_url=url)
    control = TwilioControl(settings.control, "CA1")
    await control.transfer("sip:desk@pbx.example.com")
    assert "%3CSip%3Esip%3Adesk%40pbx.example.com%3C%2FSip%3E" in recorder.seen[0][2]
    with pytest.raises(ControlUnsupported):
        await control.send_dtmf("1")
    assert dial_twiml("+1555") == "<Response><Dial><Number>+1555</Number></Dial></Response>"


async def test_rest_failures_are_reported_and_404_hangup_is_fine() -> None:
    recorder = Recorder(status=404)
    async with serve_app(recorder.app()) as url:
        settings = Settings(
            twilio_account_sid="AC1", twilio_api_url=url, telnyx_api_url=url, telnyx_api_key="K"
        )
        await TwilioControl(settings.control, "CA1").hangup()  # the call had already ended
        with pytest.raises(ControlFailed, match="answered 404"):
            await TelnyxControl(settings.control, "v3:x").hangup()
    with pytest.raises(ControlFailed, match="not DTMF digits"):
        await TelnyxControl(Settings(telnyx_api_key="K").control, "v3:x").send_dtmf("12; rm -rf")


async def test_in_band_hangup_sends_the_protocol_frame_then_closes() -> None:
    sent: list[Frame] = []
    closed: list[bool] = []

    async def send(frames: list[Frame]) -> None:
        sent.extend(frames)

    async def close() -> None:
        closed.append(True)

    control = InBandControl(lambda: [b"\x00\x00\x00"], send, close)
    await control.hangup()
    assert (sent, closed) == ([b"\x00\x00\x00"], [True])
    with pytest.raises(ControlUnsupported):
        await control.transfer("+1")
