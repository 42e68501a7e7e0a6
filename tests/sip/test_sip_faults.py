"""SIP faults on fake engines: a peer that vanishes mid-call (no BYE, no RTP), RTP loss and
reordering, an INVITE abandoned before its ACK. Each call ends cleanly or goes on; a control
call keeps its audio; and once the calls are over the legs, RTP ports, admission places,
tasks and descriptors are all given back (counted by ``/v1/status``'s ``status_of``)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiosipua.transaction
import pytest
from fault_harness import until_true
from raw_sip import RawPhone, lossy
from starlette.applications import Starlette

from bridge.app import create_app
from bridge.config import Settings
from bridge.doors.status import status_of
from bridge.sip.server import SipServer
from bridge.testing.fake_llm import FakeLLM
from bridge.testing.fakes import Fakes, FakeSTT, silence, speech
from bridge.testing.serve import serve_app

SILENT = b"\xff" * 160  # a PCMU frame of silence


@dataclass
class Bridge:
    app: Starlette
    fakes: Fakes

    @property
    def sip(self) -> SipServer:
        sip = self.app.state.runtime.sip
        assert sip is not None
        return sip

    def status(self) -> dict[str, Any]:
        return status_of(self.app.state.runtime)

    async def phone(self) -> RawPhone:
        return await RawPhone(self.sip.port).open()


@pytest.fixture
async def bridge() -> AsyncIterator[Bridge]:
    settings = Settings(
        api_keys=[], host="127.0.0.1", sip_port=0, sip_rtp_timeout_s=1.0, sip_hold_timeout_s=2.0,
        sip_rtp_ports="42000-42200", default_dialplan="agent", greeting="",
    )  # fmt: skip
    fakes = Fakes(stt=FakeSTT(), llm=FakeLLM(default=lambda _: "I heard you."))
    app = create_app(settings, engines=fakes.engines())
    async with serve_app(app):
        yield Bridge(app, fakes)


async def answered(bridge: Bridge) -> RawPhone:
    phone = await bridge.phone()
    response = await phone.invite()
    assert response.startswith("SIP/2.0 200"), response
    phone.ack()
    return phone


def fds() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            found.append(os.readlink(f"/proc/self/fd/{fd}"))
    return found


def held() -> str:
    tasks = sorted(str(t.get_coro()) for t in asyncio.all_tasks())
    return f"tasks: {tasks}; descriptors: {sorted(fds())}"


async def all_released(bridge: Bridge, idle: dict[str, Any]) -> None:
    def released() -> bool:
        now = bridge.status()
        return (
            now["sip"] == {"legs": 0, "rtp_ports": []}
            and now["live_total"] == 0
            and now["tasks"] <= idle["tasks"]
            and now["open_fds"] <= idle["open_fds"]
        )

    try:
        await until_true(released, 5, "everything released")
    except AssertionError as error:
        raise AssertionError(f"{error}: {bridge.status()} vs {idle}; {held()}") from None


def max_gap_ms(times: list[float], since: float) -> float:
    times = [t for t in times if t >= since]
    return max((b - a) * 1000 for a, b in itertools.pairwise(times)) if times else 0.0


async def test_a_peer_that_vanishes_mid_call_is_timed_out_and_the_other_call_goes_on(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our BYE to the vanished peer is resent for 64 x T1 (RFC 3261), then given up.
    monkeypatch.setattr(bridge.sip.retransmitter, "_t1", 0.01)
    idle = bridge.status()
    control, vanishing = await answered(bridge), await answered(bridge)
    await until_true(lambda: len(bridge.sip.legs) == 2, 5, "both calls up")
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(
        control.talk(control.rtp_packets(silence(2500, 8000, "pcmu"))),
        vanishing.talk(vanishing.rtp_packets(silence(300, 8000, "pcmu"))),  # then nothing
    )
    # The vanished call timed out (1 s) while the control call kept its media flowing.
    await until_true(lambda: len(bridge.sip.legs) == 1, 5, "the vanished call ended")
    (summary,) = bridge.sip.finished
    assert summary.ended_by == "media timeout"
    assert max_gap_ms(control.rtp_in.times, start) < 300
    assert len(bridge.status()["sip"]["rtp_ports"]) == 1
    control.bye()
    await until_true(lambda: not bridge.sip.legs, 5, "the control call ended")
    control.close()
    vanishing.close()
    await all_released(bridge, idle)


async def test_speech_with_rtp_loss_and_reordering_is_still_answered(bridge: Bridge) -> None:
    idle = bridge.status()
    phone = await answered(bridge)
    packets = phone.rtp_packets(speech(800, 8000, "pcmu") + silence(900, 8000, "pcmu"))
    phone.heard()
    await phone.talk(lossy(packets))  # 10 % lost, every pair swapped
    await until_true(lambda: bool(bridge.fakes.stt.results), 5, "the turn was transcribed")
    await until_true(
        lambda: any(p != SILENT for p in phone.heard()), 5, "the agent's reply was heard"
    )
    phone.bye()
    await until_true(lambda: not bridge.sip.legs, 5, "the call ended")
    phone.close()
    await all_released(bridge, idle)


async def test_an_invite_abandoned_before_its_ack_releases_everything(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wait for the ACK: 64 x T1, resending the 200 at T1, 2 T1, ... up to T2.
    monkeypatch.setattr(aiosipua.transaction, "T1", 0.01)
    monkeypatch.setattr(aiosipua.transaction, "T2", 0.08)
    monkeypatch.setattr(aiosipua.transaction, "TIMER_H", 0.64)
    monkeypatch.setattr(bridge.sip.retransmitter, "_t1", 0.01)  # and for our BYE's answer
    idle = bridge.status()
    phone = await bridge.phone()
    assert (await phone.invite()).startswith("SIP/2.0 200")  # ... and never ACKed
    await until_true(lambda: bool(bridge.sip.finished), 5, "the unacknowledged call ended")
    assert bridge.sip.finished[-1].ended_by == "no ack"
    phone.close()
    await all_released(bridge, idle)


async def test_a_held_call_that_never_resumes_ends_after_the_hold_timeout(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bridge.sip.retransmitter, "_t1", 0.01)  # our BYE gets no answer
    idle = bridge.status()
    phone = await answered(bridge)
    assert (await phone.invite(cseq=2, direction="sendonly")).startswith("SIP/2.0 200")
    phone.ack(cseq=2)
    loop = asyncio.get_running_loop()
    held_at = loop.time()
    # On hold the RTP timeout (1 s) does not apply; the hold timeout (2 s) does.
    await until_true(lambda: bool(bridge.sip.finished), 5, "the held call ended")
    assert loop.time() - held_at >= 1.8
    assert bridge.sip.finished[-1].ended_by == "media timeout"
    phone.close()
    await all_released(bridge, idle)
