"""Retransmission of our own requests, and the ACK for an error response to our INVITE."""

import asyncio

from aiosipua import SipRequest, SipResponse

from bridge.sip.compat import Retransmitter, ack_for_error, settle

PEER = ("127.0.0.1", 5060)


def request(method: str = "BYE", seq: int = 2) -> SipRequest:
    message = SipRequest(method=method, uri="sip:them@127.0.0.1")
    message.headers.append("Via", "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1")
    message.headers.set_single("From", "<sip:us@127.0.0.1>;tag=a")
    message.headers.set_single("To", "<sip:them@127.0.0.1>")
    message.headers.set_single("Call-ID", "call-1")
    message.headers.set_single("CSeq", f"{seq} {method}")
    return message


def response(status: int, method: str = "BYE", seq: int = 2) -> SipResponse:
    message = SipResponse(status_code=status, reason_phrase="x")
    message.headers.set_single("Call-ID", "call-1")
    message.headers.set_single("CSeq", f"{seq} {method}")
    message.headers.set_single("To", "<sip:them@127.0.0.1>;tag=b")
    return message


async def test_a_request_is_resent_until_its_final_answer_arrives() -> None:
    sent: list[SipRequest] = []
    resent = asyncio.Event()

    def send(message: SipRequest, addr: tuple[str, int]) -> None:
        sent.append(message)
        if len(sent) == 2:
            resent.set()

    retransmitter = Retransmitter(send, t1=0.01)
    answered = retransmitter.track(request(), PEER)
    await resent.wait()
    retransmitter.response(response(100))  # provisional: a BYE keeps going
    retransmitter.response(response(200, seq=3))  # another transaction's answer
    assert not answered.done()
    final = response(200)
    retransmitter.response(final)
    assert await answered is final
    count = len(sent)
    assert await settle(answered, 0.1) is final
    assert len(sent) == count  # nothing more once answered


async def test_an_unanswered_request_gives_up_after_64_t1() -> None:
    sent: list[SipRequest] = []
    retransmitter = Retransmitter(lambda message, addr: sent.append(message), t1=0.001)
    assert await settle(retransmitter.track(request(), PEER), 5) is None
    assert 6 <= len(sent) <= 12  # T1-doubling, capped at T2 = 8 T1, over 64 T1


async def test_an_invite_stops_resending_at_the_first_provisional() -> None:
    sent: list[SipRequest] = []
    retransmitter = Retransmitter(lambda message, addr: sent.append(message), t1=0.01)
    answered = retransmitter.track(request("INVITE", 1), PEER)
    retransmitter.response(response(180, "INVITE", 1))
    count = len(sent)
    final = response(486, "INVITE", 1)
    retransmitter.response(final)
    assert await answered is final
    assert len(sent) == count
    retransmitter.close()


def test_the_ack_for_an_error_belongs_to_the_invite_transaction() -> None:
    invite = request("INVITE", 7)
    ack = ack_for_error(invite, response(401, "INVITE", 7))
    assert ack.method == "ACK"
    assert ack.uri == invite.uri
    assert ack.headers.get("via") == invite.headers.get("via")  # same branch
    assert ack.headers.get_first("cseq") == "7 ACK"
    assert ack.headers.get_first("to") == "<sip:them@127.0.0.1>;tag=b"
    assert ack.headers.get_first("call-id") == "call-1"
