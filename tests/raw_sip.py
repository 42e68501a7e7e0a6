"""A bare SIP phone on loopback for fault tests: INVITE with a PCMU offer, ACK, BYE, and RTP
sent with loss and reordering on request, or not at all (a peer that vanished).

A module beside the root ``conftest.py`` (not a ``conftest.py`` of its own).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid

from aiortp.packet import RtpPacket

FRAME = 160  # 20 ms of PCMU


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.times: list[float] = []  # loop time of each datagram

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.times.append(asyncio.get_running_loop().time())
        self.received.put_nowait(data)


class RawPhone:
    def __init__(self, sip_port: int) -> None:
        self.sip_port = sip_port
        self.call_id = f"raw-{uuid.uuid4().hex[:12]}"
        self.tag = uuid.uuid4().hex[:8]
        self.to_tag = ""
        self.media_port = 0  # the bridge's RTP port, from its answer
        self._seq = itertools.count(1)
        self._branches = itertools.count(1)

    async def open(self) -> RawPhone:
        loop = asyncio.get_running_loop()
        self.sip, self.sip_in = await loop.create_datagram_endpoint(
            Inbox, local_addr=("127.0.0.1", 0)
        )
        self.rtp, self.rtp_in = await loop.create_datagram_endpoint(
            Inbox, local_addr=("127.0.0.1", 0)
        )
        self.port = self.sip.get_extra_info("sockname")[1]
        self.rtp_port = self.rtp.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        self.sip.close()
        self.rtp.close()

    def _branch(self) -> str:
        return f"z9hG4bK-{self.call_id}-{next(self._branches)}"

    def _request(self, method: str, cseq: int, body: str = "") -> bytes:
        to = "<sip:bridge@127.0.0.1>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} sip:bridge@127.0.0.1:{self.sip_port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={self._branch()}",
            f"From: <sip:+15550001@127.0.0.1>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:phone@127.0.0.1:{self.port}>",
            "Max-Forwards: 70",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def send(self, message: bytes) -> None:
        self.sip.sendto(message, ("127.0.0.1", self.sip_port))

    async def reply(self, within_s: float = 5.0) -> str:
        async with asyncio.timeout(within_s):
            return (await self.sip_in.received.get()).decode(errors="replace")

    async def invite(self, *, cseq: int = 1, direction: str = "sendrecv") -> str:
        """INVITE (a re-INVITE once answered) with a PCMU offer; returns the final response
        (its status line first). ``direction="sendonly"`` puts the call on hold."""
        sdp = "\r\n".join(
            [
                "v=0",
                f"o=phone 1 {cseq} IN IP4 127.0.0.1",
                "s=-",
                "c=IN IP4 127.0.0.1",
                "t=0 0",
                f"m=audio {self.rtp_port} RTP/AVP 0",
                "a=rtpmap:0 PCMU/8000",
                f"a={direction}",
                "",
            ]
        )
        self.send(self._request("INVITE", cseq, sdp))
        while True:
            response = await self.reply()
            status = int(response.split(" ", 2)[1])
            if status >= 200:
                break
        if status == 200:
            tag = re.search(r"^To:.*;tag=([^;\r\n]+)", response, re.M | re.I)
            port = re.search(r"^m=audio (\d+)", response, re.M)
            assert tag is not None, response
            assert port is not None, response
            self.to_tag, self.media_port = tag.group(1), int(port.group(1))
        return response

    def ack(self, cseq: int = 1) -> None:
        self.send(self._request("ACK", cseq))

    def bye(self) -> None:
        self.send(self._request("BYE", 2))

    def rtp_packets(self, audio: bytes) -> list[bytes]:
        return [
            RtpPacket(0, 0, seq, seq * FRAME, 0x1234, audio[i : i + FRAME]).serialize()
            for seq, i in zip(self._seq, range(0, len(audio), FRAME), strict=False)
        ]

    async def talk(self, packets: list[bytes]) -> None:
        """Send packets one every 20 ms (None-free: drop or reorder them beforehand)."""
        for packet in packets:
            self.rtp.sendto(packet, ("127.0.0.1", self.media_port))
            await asyncio.sleep(0.02)

    def heard(self) -> list[bytes]:
        """The payloads of the RTP received so far (drained)."""
        payloads = []
        while not self.rtp_in.received.empty():
            payloads.append(RtpPacket.parse(self.rtp_in.received.get_nowait()).payload)
        return payloads


def lossy(packets: list[bytes], lose_every: int = 10) -> list[bytes]:
    """Every ``lose_every``-th packet lost, and each remaining pair swapped (reordered)."""
    kept = [p for i, p in enumerate(packets, 1) if i % lose_every]
    for i in range(0, len(kept) - 1, 2):
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return kept
