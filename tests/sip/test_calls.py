"""SIP calls end to end: sipp does the signalling, a simulated phone the RTP (Piper speech in
20 ms packets, RFC 4733 keys), and what the bridge says back is transcribed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from conftest import RunningBridge

from bridge.caller.caller import Listen, Press, Say, SimulatedCaller
from bridge.caller.dial import RtpClient, open_rtp
from bridge.caller.wires import rtp_wire
from bridge.carriers.base import DtmfReceived
from bridge.config import Settings
from bridge.pipeline.stt import SpeechToText
from bridge.pipeline.tts import PiperTTS
from bridge.sip.rtp import PCMU, MediaParams, RtpReceiver
from bridge.sip.sdp import DTMF_PAYLOAD_TYPE
from bridge.sip.server import SipServer
from bridge.testing.llm_server import Reply, Rule, ScriptedToolCall
from bridge.testing.sipp import SippResult, free_udp_port, run_sipp
from bridge.testing.speech import contains_phrase, word_error_rate

pytestmark = pytest.mark.slow
SCENARIOS = Path(__file__).parent / "scenarios"
CODE_FLOW = Path(__file__).parent / "dialplans" / "code.yaml"
HOURS = "We are open from nine in the morning until five in the evening."


@pytest.fixture
def bridge_settings(request: pytest.FixtureRequest) -> Settings:
    extra = getattr(request, "param", {})
    base = {"greeting": "", "sip_port": 0, "default_dialplan": "agent"}
    return Settings(**{**base, **extra})


def sip_of(bridge: RunningBridge) -> SipServer:
    server = bridge.app.state.runtime.sip
    assert server is not None
    return server  # type: ignore[no-any-return]


def target(bridge: RunningBridge) -> str:
    return f"127.0.0.1:{sip_of(bridge).port}"


async def sipp_call(
    bridge: RunningBridge, scenario: str, phone: RtpClient | KeyListeningPhone, **variables: str
) -> asyncio.Task[SippResult]:
    return asyncio.create_task(
        run_sipp(
            SCENARIOS / scenario,
            target(bridge),
            variables={"rtp_port": str(phone.port), **variables},
            timeout_s=90,
        )
    )


@pytest.mark.parametrize("bridge_settings", [{"default_dialplan": str(CODE_FLOW)}], indirect=True)
async def test_a_caller_keys_a_code_talks_to_the_agent_and_the_bridge_hangs_up(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async with open_rtp() as phone:
        sipp = await sipp_call(bridge, "call_until_bye.xml", phone)
        caller = SimulatedCaller(rtp_wire(), phone, tts=piper, stt=stt)
        prompt, keyed, hours, goodbye = await caller.run(
            [Listen(), Press("42"), Say("When are you open?"), Say("Goodbye.")]
        )
        result = await sipp
    assert result.ok, result.explain()  # the bridge's BYE ended sipp's call
    assert word_error_rate("Please enter your two digit code.", prompt.heard) <= 0.2, prompt
    assert "42" in keyed.heard.replace(" ", ""), keyed  # the dialplan got both keys
    assert word_error_rate(HOURS, hours.heard) <= 0.25, hours
    assert contains_phrase(goodbye.heard, "goodbye"), goodbye
    (summary,) = sip_of(bridge).finished
    assert summary.answered
    assert summary.ended_by == "bridge"
    assert summary.packets_in > 100


@pytest.mark.parametrize("bridge_settings", [{"sip_ring_ms": 5000}], indirect=True)
async def test_cancel_while_ringing_gets_200_and_487_and_no_call_starts(
    bridge: RunningBridge,
) -> None:
    async with open_rtp() as phone:
        result = await (await sipp_call(bridge, "cancel_while_ringing.xml", phone))
    assert result.ok, result.explain()
    (summary,) = sip_of(bridge).finished
    assert not summary.answered
    assert summary.ended_by == "cancel"
    assert bridge.app.state.runtime.sessions == 0


async def test_re_invites_hold_and_change_the_codec_and_the_call_goes_on(
    bridge: RunningBridge,
) -> None:
    async with open_rtp() as phone:
        result = await (await sipp_call(bridge, "reinvite.xml", phone))
    assert result.ok, result.explain()  # sipp checked recvonly, then PCMA, in our answers
    (summary,) = sip_of(bridge).finished
    assert summary.ended_by == "caller"


async def test_the_agent_transfers_the_caller_with_refer_and_then_hangs_up(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    async with open_rtp() as phone:
        sipp = await sipp_call(bridge, "refer.xml", phone)
        caller = SimulatedCaller(rtp_wire(), phone, tts=piper, stt=stt)
        (reply,) = await caller.run([Say("Can I talk to the operator, please?")])
        result = await sipp
    assert result.ok, result.explain()
    assert contains_phrase(reply.heard, "put you through"), reply
    refer = next(m for m in result.messages.split("-----") if "REFER sip:" in m)
    assert "Refer-To: <sip:+15550100@127.0.0.1:" in refer
    (summary,) = sip_of(bridge).finished
    assert summary.ended_by == "bridge"


@pytest.mark.parametrize(
    "bridge_settings",
    [{"sip_trunk_username": "bridge-user", "sip_trunk_password": "s3cret", "sip_rtp_timeout_s": 1}],
    indirect=True,
)
async def test_an_outbound_call_answers_a_digest_challenge_and_ends_when_media_stops(
    bridge: RunningBridge,
) -> None:
    sip_port = free_udp_port()
    ready = asyncio.Event()
    async with open_rtp() as phone:
        uas = asyncio.create_task(
            run_sipp(
                SCENARIOS / "uas_digest.xml",
                None,
                variables={
                    "rtp_port": str(phone.port),
                    "user": "bridge-user",
                    "password": "s3cret",
                },
                sip_port=sip_port,
                ready=ready,
                timeout_s=30,
            )
        )
        await ready.wait()
        async with httpx.AsyncClient(base_url=bridge.url) as http:
            placed = await http.post("/v1/sip/calls", json={"to": f"sip:desk@127.0.0.1:{sip_port}"})
        assert placed.status_code == 201, placed.text
        result = await uas
    # sipp verified our Authorization, got its ACKs (the 401's too) and our BYE.
    assert result.ok, result.explain()
    (summary,) = sip_of(bridge).finished
    assert summary.direction == "outbound"
    assert summary.call_id == placed.json()["call_id"]
    assert summary.ended_by == "media timeout"  # sipp's UAS sends no RTP


async def test_placing_a_call_needs_a_target(bridge: RunningBridge) -> None:
    async with httpx.AsyncClient(base_url=bridge.url) as http:
        missing = await http.post("/v1/sip/calls", json={})
        garbage = await http.post("/v1/sip/calls", content=b"{nope")
        number = await http.post("/v1/sip/calls", json={"to": "+15550100"})  # no trunk set
    assert missing.status_code == 400
    assert garbage.status_code == 400
    assert number.status_code == 502
    assert "BRIDGE_SIP_TRUNK_URI" in number.json()["error"]["message"]


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)


async def raw_udp() -> tuple[asyncio.DatagramTransport, Datagrams]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(Datagrams, local_addr=("127.0.0.1", 0))


def sip_request(method: str, port: int, *, via: bool = True, call_id: str = "raw-1") -> bytes:
    lines = [f"{method} sip:bridge@127.0.0.1 SIP/2.0"]
    if via:
        lines.append(f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-raw-{method}")
    lines += [
        "From: <sip:probe@127.0.0.1>;tag=p1",
        "To: <sip:bridge@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        "Max-Forwards: 70",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_garbage_and_malformed_sip_get_errors_or_nothing_and_a_live_call_goes_on(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    server = sip_of(bridge)
    udp, probe = await raw_udp()
    port = udp.get_extra_info("sockname")[1]
    try:
        async with open_rtp() as phone:
            sipp = await sipp_call(bridge, "call_until_bye.xml", phone)
            caller = SimulatedCaller(rtp_wire(), phone, tts=piper, stt=stt)
            first = asyncio.create_task(caller.run([Say("When are you open?"), Say("Goodbye.")]))
            await bridge.app.state.runtime.calls.wait_for_count(1)  # up: now throw junk at it
            (leg,) = server.legs.values()
            for junk in (b"\x00\xff" * 300, b"INVITE nonsense\r\n\r\n", bytes(range(256)) * 8):
                udp.sendto(junk, ("127.0.0.1", server.port))
                udp.sendto(junk, ("127.0.0.1", leg.rtp.port))  # and at its media
            udp.sendto(sip_request("INVITE", port, via=False), ("127.0.0.1", server.port))
            udp.sendto(sip_request("OPTIONS", port), ("127.0.0.1", server.port))
            udp.sendto(sip_request("BYE", port, call_id="no-such-call"), ("127.0.0.1", server.port))
            udp.sendto(sip_request("SUBSCRIBE", port), ("127.0.0.1", server.port))
            replies = [(await probe.received.get()).split(b"\r\n")[0] for _ in range(3)]
            hours, goodbye = await first
            result = await sipp
    finally:
        udp.close()
    assert sorted(replies) == [
        b"SIP/2.0 200 OK",  # OPTIONS
        b"SIP/2.0 405 Method Not Allowed",  # SUBSCRIBE
        b"SIP/2.0 481 Call/Transaction Does Not Exist",  # BYE for no call
    ]
    assert probe.received.empty()  # the INVITE without Via could not be answered: dropped
    assert result.ok, result.explain()
    assert word_error_rate(HOURS, hours.heard) <= 0.25, hours
    assert contains_phrase(goodbye.heard, "goodbye"), goodbye


@pytest.mark.parametrize(
    "bridge_settings", [{"sip_allowed_sources": ["10.0.0.0/8"]}], indirect=True
)
async def test_a_call_from_a_source_not_allowed_is_refused_with_403(bridge: RunningBridge) -> None:
    async with open_rtp() as phone:
        result = await (await sipp_call(bridge, "call_until_bye.xml", phone))
    assert not result.ok
    assert "403" in result.messages
    assert not sip_of(bridge).finished


@pytest.mark.parametrize(
    "bridge_settings", [{"greeting": "Hello! How can I help you today?"}], indirect=True
)
async def test_ten_simultaneous_calls_are_answered_greeted_and_hung_up(
    bridge: RunningBridge,
) -> None:
    async with open_rtp() as phone:
        result = await run_sipp(
            SCENARIOS / "call_then_hangup.xml",
            target(bridge),
            variables={"rtp_port": str(phone.port), "talk_ms": "4000"},
            calls=10,
            concurrent=10,
            rate=10,
            timeout_s=60,
        )
    assert result.ok, result.explain()
    finished = list(sip_of(bridge).finished)
    assert len(finished) == 10
    assert all(s.answered and s.ended_by == "caller" for s in finished)
    assert bridge.app.state.runtime.sessions == 0


async def test_sipps_own_uac_pcap_call_completes_and_the_bridge_hears_it(
    bridge: RunningBridge,
) -> None:
    """sipp's built-in scenario: PCMA in 30 ms packets ("Thank you very much"), then RFC 2833
    key 1 from another SSRC, then BYE. Playing pcap needs root, as CI has."""
    result = await run_sipp("uac_pcap", target(bridge), timeout_s=60)
    assert result.ok, result.explain()
    (summary,) = sip_of(bridge).finished
    assert summary.packets_in >= 236 + 1  # every audio packet and the key's
    assert summary.utterances >= 1  # its speech was heard as speech
    assert summary.digits == "1"
    assert summary.ended_by == "caller"


class KeyListeningPhone:
    """A phone that also notes the RFC 4733 keys the bridge sends it."""

    def __init__(self, client: RtpClient) -> None:
        self.client = client
        self.port = client.port
        self.keys = RtpReceiver(MediaParams(PCMU, DTMF_PAYLOAD_TYPE))
        self.digits = ""

    async def receive(self) -> bytes | str | None:
        frame = await self.client.receive()
        if isinstance(frame, bytes):
            for event in self.keys.receive(frame):
                if isinstance(event, DtmfReceived):
                    self.digits += event.digit
        return frame

    async def send(self, frame: bytes | str) -> None:
        await self.client.send(frame)

    async def close(self) -> None:
        await self.client.close()


async def test_the_agent_presses_keys_as_rfc_4733_events(
    bridge: RunningBridge, piper: PiperTTS, stt: SpeechToText
) -> None:
    press = ScriptedToolCall("send_dtmf", {"digits": "12#"})
    bridge.llm.rules = [
        Rule("extension", Reply("Dialling it now.", tool_calls=(press,))),
        *bridge.llm.rules,
    ]
    async with open_rtp() as client:
        phone = KeyListeningPhone(client)
        sipp = await sipp_call(bridge, "call_until_bye.xml", phone)
        caller = SimulatedCaller(rtp_wire(), phone, tts=piper, stt=stt)
        await caller.run([Say("Please dial the extension."), Say("Goodbye.")])
        result = await sipp
    assert result.ok, result.explain()
    assert phone.digits == "12#"


def invite(port: int, rtp_port: int) -> bytes:
    body = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    )
    head = [
        "INVITE sip:bridge@127.0.0.1 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-raw-invite",
        "From: <sip:probe@127.0.0.1>;tag=p1",
        "To: <sip:bridge@127.0.0.1>",
        "Call-ID: raw-call",
        "CSeq: 1 INVITE",
        f"Contact: <sip:probe@127.0.0.1:{port}>",
        "Max-Forwards: 70",
        "Content-Type: application/sdp",
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def header(message: bytes, name: str) -> str:
    for line in message.decode().split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


@pytest.mark.parametrize(
    "bridge_settings", [{"sip_rtp_timeout_s": 1.5, "sip_ring_ms": 300}], indirect=True
)
async def test_our_200_is_repeated_until_acked_and_our_bye_until_answered(
    bridge: RunningBridge,
) -> None:
    server = sip_of(bridge)
    udp, peer = await raw_udp()
    port = udp.get_extra_info("sockname")[1]
    bridge_addr = ("127.0.0.1", server.port)
    try:
        udp.sendto(invite(port, 9), bridge_addr)
        udp.sendto(invite(port, 9), bridge_addr)  # a retransmission: the same call, not a new one
        firsts: list[bytes] = []
        while len([m for m in firsts if m.startswith(b"SIP/2.0 200")]) < 2:
            firsts.append(await peer.received.get())  # a second 200: not ACKed yet, so again
        ok = next(m for m in firsts if m.startswith(b"SIP/2.0 200"))
        ack = (
            invite(port, 9)
            .split(b"\r\n\r\n")[0]
            .replace(b"INVITE sip:", b"ACK sip:", 1)
            .replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK")
            .replace(b"To: <sip:bridge@127.0.0.1>", f"To: {header(ok, 'To')}".encode())
            .replace(b"Content-Type: application/sdp", b"Content-Type: text/plain")
        )
        ack = ack.replace(header(ok, "Via").encode(), b"SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-ack")
        udp.sendto(ack.split(b"Content-Length")[0] + b"Content-Length: 0\r\n\r\n", bridge_addr)
        # No RTP from us: after 1.5 s the bridge hangs up. Ignore its first BYE.
        byes: list[bytes] = []
        while len(byes) < 2:
            message = await peer.received.get()
            if message.startswith(b"BYE "):
                byes.append(message)
        assert header(byes[0], "Via") == header(byes[1], "Via")  # the same transaction, resent
        reply = [
            "SIP/2.0 200 OK",
            f"Via: {header(byes[1], 'Via')}",
            f"From: {header(byes[1], 'From')}",
            f"To: {header(byes[1], 'To')}",
            f"Call-ID: {header(byes[1], 'Call-ID')}",
            f"CSeq: {header(byes[1], 'CSeq')}",
            "Content-Length: 0",
        ]
        udp.sendto(("\r\n".join(reply) + "\r\n\r\n").encode(), bridge_addr)
        # Datagrams are handled in order: once OPTIONS is answered, so was our 200.
        udp.sendto(sip_request("OPTIONS", port), bridge_addr)
        while not (await peer.received.get()).startswith(b"SIP/2.0 200"):
            pass
        await bridge.app.state.runtime.calls.wait_empty()
    finally:
        udp.close()
    status_lines = [m.split(b"\r\n")[0] for m in firsts]
    assert status_lines[0] == b"SIP/2.0 100 Trying"
    assert set(status_lines) == {b"SIP/2.0 100 Trying", b"SIP/2.0 180 Ringing", b"SIP/2.0 200 OK"}
    assert len({header(m, "To") for m in firsts if b" 200 " in m}) == 1  # one dialog
    (summary,) = server.finished
    assert summary.ended_by == "media timeout"
    assert not server.retransmitter._pending  # our BYE got its answer: nothing left to resend
