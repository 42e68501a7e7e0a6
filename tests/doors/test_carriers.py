"""Carrier recognition on the shared /media route."""

import pytest

from bridge.caller.wires import WIRES
from bridge.doors.carriers import detect_carrier


@pytest.mark.parametrize("name", sorted(WIRES))
def test_each_carriers_opening_is_recognised(name: str) -> None:
    wire = WIRES[name]()
    frames = wire.opening()
    detected = [detect_carrier(frame, list(wire.subprotocols)) for frame in frames]
    first_known = next(d for d in detected if d is not None)
    assert first_known == name


def test_unknown_openings_are_not_guessed() -> None:
    assert detect_carrier('{"hello": 1}', []) is None
    assert detect_carrier("not json", []) is None
    assert detect_carrier(b"\x10\x00\x02ab", []) is None
