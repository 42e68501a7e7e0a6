"""One admission step: readiness and capacity checked and counted together, synchronously."""

from __future__ import annotations

from typing import Any, cast

from bridge.doors.admission import Admission, Refused, Ticket
from bridge.pipeline.engines import Engines

ENGINES = cast(Engines, object())  # admission only hands the engines on


def test_refused_while_loading() -> None:
    admission = Admission(2, lambda: None)
    refused = admission.admit("sip")
    assert isinstance(refused, Refused)
    assert refused.reason == "loading"
    assert refused.http_status == 503
    assert admission.total == 0


def test_counted_at_once_so_concurrent_arrivals_cannot_overfill() -> None:
    # Two INVITEs arriving together: the second sees the first counted before anything awaits.
    admission = Admission(1, lambda: ENGINES)
    first = admission.admit("sip")
    second = admission.admit("carrier")
    assert isinstance(first, Ticket)
    assert first.engines is ENGINES
    assert isinstance(second, Refused)
    assert second.reason == "full"
    assert admission.live["sip"] == 1


def test_a_released_ticket_frees_its_place_once() -> None:
    admission = Admission(1, lambda: ENGINES)
    ticket = admission.admit("realtime")
    assert isinstance(ticket, Ticket)
    with ticket:
        assert admission.full
    ticket.release()  # a second release changes nothing
    assert admission.total == 0
    again: Any = admission.admit("audiosocket")
    assert isinstance(again, Ticket)
    assert dict(admission.live) == {"realtime": 0, "audiosocket": 1}
