"""Call control behind one interface: hang up, transfer, send DTMF.

Carriers with a REST API are driven through it (base URLs are settings, so tests point them at
a local server); in-band protocols (AudioSocket, jambonz) send their own frames. An action a
carrier cannot do raises :class:`ControlUnsupported`, which the agent hears as a tool error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html import escape
from typing import Protocol

import httpx

from bridge.carriers.base import Frame
from bridge.config import ControlSettings
from bridge.logging import get_logger

log = get_logger("bridge.calls.control")
REST_TIMEOUT_S = 10.0
# What enables each carrier's REST call control (bridge.calls.routes.rest_control): named in the
# error when a call on that carrier, left to in-band control, is asked to transfer.
CONTROL_SETTINGS = {
    "twilio": "BRIDGE_TWILIO_ACCOUNT_SID",  # SignalWire too (it speaks Twilio's protocol)
    "telnyx": "BRIDGE_TELNYX_API_KEY",
    "plivo": "BRIDGE_PLIVO_AUTH_ID",
}


class ControlUnsupported(Exception):
    pass


class ControlFailed(Exception):
    pass


class CallControl(Protocol):
    async def hangup(self) -> None: ...
    async def transfer(self, target: str) -> None: ...
    async def send_dtmf(self, digits: str) -> None: ...


def _check_digits(digits: str) -> str:
    if not re.fullmatch(r"[0-9*#A-Dw]+", digits):
        raise ControlFailed(f"not DTMF digits: {digits!r}")
    return digits


def dial_twiml(target: str) -> str:
    """TwiML that dials a number or a SIP URI."""
    inner = (
        f"<Sip>{escape(target)}</Sip>"
        if target.startswith(("sip:", "sips:"))
        else f"<Number>{escape(target)}</Number>"
    )
    return f"<Response><Dial>{inner}</Dial></Response>"


class RestControl:
    """Shared plumbing: one HTTP request per action, failures reported with the status."""

    def __init__(
        self, base_url: str, auth: httpx.Auth | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._headers = headers or {}

    async def _request(
        self, method: str, path: str, *, ok_statuses: tuple[int, ...] = (), **kwargs: object
    ) -> None:
        async with httpx.AsyncClient(
            base_url=self._base_url, auth=self._auth, headers=self._headers, timeout=REST_TIMEOUT_S
        ) as client:
            try:
                response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                raise ControlFailed(f"{method} {self._base_url}{path} failed: {exc}") from exc
        if response.is_success or response.status_code in ok_statuses:
            return
        raise ControlFailed(
            f"{method} {path} answered {response.status_code}: {response.text[:200]}"
        )


class TwilioControl(RestControl):
    def __init__(self, settings: ControlSettings, call_sid: str) -> None:
        super().__init__(
            settings.twilio_api_url,
            httpx.BasicAuth(settings.twilio_account_sid, settings.twilio_auth_token),
        )
        self._path = f"/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls/{call_sid}.json"

    async def hangup(self) -> None:
        # 404 means the call already ended: the goal is met.
        await self._request("POST", self._path, data={"Status": "completed"}, ok_statuses=(404,))

    async def transfer(self, target: str) -> None:
        # New TwiML replaces the <Connect><Stream>: the stream stops and the call is dialled on.
        await self._request("POST", self._path, data={"Twiml": dial_twiml(target)})

    async def send_dtmf(self, digits: str) -> None:
        raise ControlUnsupported("Twilio cannot send DTMF into a live media stream")


class TelnyxControl(RestControl):
    def __init__(self, settings: ControlSettings, call_control_id: str) -> None:
        super().__init__(
            settings.telnyx_api_url, headers={"Authorization": f"Bearer {settings.telnyx_api_key}"}
        )
        self._path = f"/v2/calls/{call_control_id}/actions"

    async def hangup(self) -> None:
        await self._request("POST", f"{self._path}/hangup", json={})

    async def transfer(self, target: str) -> None:
        await self._request("POST", f"{self._path}/transfer", json={"to": target})

    async def send_dtmf(self, digits: str) -> None:
        await self._request(
            "POST", f"{self._path}/send_dtmf", json={"digits": _check_digits(digits)}
        )


class PlivoControl(RestControl):
    def __init__(self, settings: ControlSettings, call_uuid: str, transfer_url: str) -> None:
        super().__init__(
            settings.plivo_api_url,
            httpx.BasicAuth(settings.plivo_auth_id, settings.plivo_auth_token),
        )
        self._path = f"/v1/Account/{settings.plivo_auth_id}/Call/{call_uuid}/"
        self._transfer_url = transfer_url  # our endpoint answering Plivo XML that dials on

    async def hangup(self) -> None:
        await self._request("DELETE", self._path, ok_statuses=(404,))

    async def transfer(self, target: str) -> None:
        url = str(httpx.URL(self._transfer_url, params={"to": target}))
        await self._request(
            "POST", self._path, data={"legs": "aleg", "aleg_url": url, "aleg_method": "POST"}
        )

    async def send_dtmf(self, digits: str) -> None:
        await self._request("POST", f"{self._path}DTMF/", data={"digits": _check_digits(digits)})


class InBandControl:
    """Hang up with the protocol's own frame, or by closing the connection (which ends a
    Twilio ``<Connect>`` or a Plivo stream too); no transfer, no digits."""

    def __init__(
        self,
        hangup_frames: Callable[[], list[Frame]],
        send: Callable[[list[Frame]], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
        carrier: str = "",
    ) -> None:
        self._hangup_frames = hangup_frames
        self._send = send
        self._close = close
        self._carrier = carrier

    async def hangup(self) -> None:
        frames = self._hangup_frames()
        if frames:
            await self._send(frames)
        await self._close()

    async def transfer(self, target: str) -> None:
        setting = CONTROL_SETTINGS.get(self._carrier)
        hint = f"; set {setting} to enable {self._carrier} call control" if setting else ""
        raise ControlUnsupported(f"this protocol cannot transfer calls{hint}")

    async def send_dtmf(self, digits: str) -> None:
        raise ControlUnsupported("this protocol cannot send DTMF")
