"""Dialect detection from the handshake headers."""

from __future__ import annotations

import pytest

from bridge.realtime.dialect import Dialect, detect_dialect


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"OpenAI-Beta": "realtime=v1"}, Dialect.BETA),
        ({"openai-beta": "realtime=v1"}, Dialect.BETA),
        ({"OPENAI-BETA": " Realtime=V1 "}, Dialect.BETA),
        ({"OpenAI-Beta": "assistants=v2, realtime=v1"}, Dialect.BETA),
        ({"OpenAI-Beta": "assistants=v2"}, Dialect.GA),
        ({"OpenAI-Beta": "realtime=v2"}, Dialect.GA),
        ({"Authorization": "Bearer x"}, Dialect.GA),
        ({}, Dialect.GA),
        ([(b"openai-beta", b"realtime=v1")], Dialect.BETA),
        ([(b"openai-beta", b"assistants=v2"), (b"openai-beta", b"realtime=v1")], Dialect.BETA),
        ([(b"x-other", b"realtime=v1")], Dialect.GA),
    ],
)
def test_detect_dialect(headers: object, expected: Dialect) -> None:
    assert detect_dialect(headers) is expected  # type: ignore[arg-type]


def test_starlette_headers_are_a_mapping() -> None:
    from starlette.datastructures import Headers

    headers = Headers(raw=[(b"openai-beta", b"realtime=v1")])
    assert detect_dialect(headers) is Dialect.BETA


def test_the_beta_subprotocol_selects_beta_without_a_header() -> None:
    # Browsers cannot set headers on a WebSocket; the openai package's browser client asks
    # for the beta dialect with this subprotocol instead.
    offered = ["realtime", "openai-beta.realtime-v1"]
    assert detect_dialect({}, offered) is Dialect.BETA
    assert detect_dialect({}, ["realtime"]) is Dialect.GA
