"""SDP checks and rewrites around aiortc, sans I/O.

aiortc parses offers leniently and fails late (a missing fingerprint surfaces as a DTLS error
seconds later; an offer with no audio gets an answer with nothing in it), so an offer is checked
here first and refused with a reason a person can act on. The answer aiortc writes carries a
host candidate for every IPv4 address it found; :func:`rewrite_candidates` keeps only the
configured addresses and can put an advertised (NAT) address in their place.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SDP_BYTES = 64 * 1024  # a browser offer is 2-6 KB; anything near this is not an offer
LOCAL_MAX = 262_144  # aiortc's own data-channel message limit
REMOTE_DEFAULT_MAX = 65_536  # RFC 8841, when the offer has no a=max-message-size


class SdpError(ValueError):
    """The offer cannot be answered; the message says why."""


@dataclass(frozen=True, slots=True)
class OfferSummary:
    """What the door needs to know about a checked offer."""

    audio_codecs: tuple[str, ...]  # rtpmap names in the audio m-line, lower case ("opus", ...)
    has_data_channel: bool
    candidates: int  # a=candidate lines (browsers that do not wait for gathering send none)
    max_message_size: int  # the peer's data-channel limit (RFC 8841: 65,536 when unsaid)


def _lines(sdp: str) -> list[str]:
    return [line.strip() for line in sdp.replace("\r\n", "\n").split("\n") if line.strip()]


def check_offer(sdp: str, *, max_bytes: int = MAX_SDP_BYTES) -> OfferSummary:
    """Raise :class:`SdpError` unless ``sdp`` is an offer aiortc can answer with audio."""
    if len(sdp.encode("utf-8", "replace")) > max_bytes:
        raise SdpError(f"The SDP offer is larger than {max_bytes} bytes.")
    lines = _lines(sdp)
    if not lines or lines[0] != "v=0":
        raise SdpError("The body is not an SDP offer: it must start with 'v=0'.")
    for line in lines:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise SdpError(f"Malformed SDP line: {line[:60]!r} (expected '<letter>=<value>').")
    media: list[list[str]] = []
    session: list[str] = []
    for line in lines:
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    audio = [m for m in media if m[0].startswith("m=audio ")]
    if not audio:
        raise SdpError("The SDP offer has no audio m-line (m=audio): there is nothing to talk on.")
    section = audio[0]
    fields = section[0].split()
    if len(fields) < 4 or not fields[1].isdigit():
        raise SdpError(f"Malformed audio m-line: {section[0][:80]!r}.")
    if fields[1] == "0" and not any(a == "a=bundle-only" for a in section):
        raise SdpError("The audio m-line is rejected (port 0).")
    codecs = tuple(
        a.split(None, 1)[1].split("/")[0].lower()
        for a in section
        if a.startswith("a=rtpmap:") and len(a.split(None, 1)) == 2
    )
    if not any(c in ("opus", "pcmu", "pcma") for c in codecs) and not _static(fields[3:]):
        raise SdpError("The audio m-line offers no codec the bridge speaks (Opus, PCMU or PCMA).")
    attributes = session + [a for m in media for a in m]
    for needed, what in (
        ("a=ice-ufrag:", "ICE credentials (a=ice-ufrag)"),
        ("a=ice-pwd:", "ICE credentials (a=ice-pwd)"),
        ("a=fingerprint:", "a DTLS fingerprint (a=fingerprint)"),
    ):
        if not any(a.startswith(needed) for a in attributes):
            raise SdpError(f"The SDP offer lacks {what}; WebRTC needs it.")
    return OfferSummary(
        audio_codecs=codecs,
        has_data_channel=any(m[0].startswith("m=application ") for m in media),
        candidates=sum(a.startswith("a=candidate:") for a in attributes),
        max_message_size=_max_message_size(attributes),
    )


def _max_message_size(attributes: list[str]) -> int:
    for a in attributes:
        if a.startswith("a=max-message-size:"):
            value = a.split(":", 1)[1].strip()
            if value.isdigit():
                return int(value) or LOCAL_MAX  # 0: no limit but ours
    return REMOTE_DEFAULT_MAX


def _static(payload_types: list[str]) -> bool:
    """PCMU (0) and PCMA (8) need no rtpmap line."""
    return any(pt in ("0", "8") for pt in payload_types)


def rewrite_candidates(
    sdp: str, *, host_addresses: frozenset[str] = frozenset(), advertised: str | None = None
) -> str:
    """Keep only host candidates on ``host_addresses`` (all when empty); with ``advertised``,
    announce host candidates on that address instead (a 1:1 NAT or a container's host)."""
    if not host_addresses and advertised is None:
        return sdp
    out: list[str] = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) >= 8 and parts[7] == "host":
                if host_addresses and parts[4] not in host_addresses:
                    continue
                if advertised is not None:
                    parts[4] = advertised
                    line = " ".join(parts)
        elif line.startswith("c=IN IP4 ") and advertised is not None:
            line = f"c=IN IP4 {advertised}"
        out.append(line)
    return "\r\n".join(out)


def strip_candidates(sdp: str) -> str:
    """The offer as a browser that does not wait for ICE gathering sends it: no candidates."""
    kept = [
        line
        for line in sdp.replace("\r\n", "\n").split("\n")
        if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    ]
    return "\r\n".join(kept)


STATIC_CODECS = {"0": "pcmu", "8": "pcma", "9": "g722"}


def sent_audio_codec(answer: str) -> str | None:
    """The codec our answer sends audio with: the first payload type of its audio m-line (the
    one aiortc's sender uses), as a lower-case name; None without an audio m-line."""
    lines = _lines(answer)
    for index, line in enumerate(lines):
        fields = line.split()
        if line.startswith("m=audio ") and len(fields) > 3:
            first = fields[3]
            for attribute in lines[index + 1 :]:
                if attribute.startswith("m="):
                    break
                if attribute.startswith(f"a=rtpmap:{first} "):
                    return attribute.split(None, 1)[1].split("/")[0].lower()
            return STATIC_CODECS.get(first)
    return None
