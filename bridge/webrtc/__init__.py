"""WebRTC media for the bridge's doors, on aiortc: offer checks, the peer (ICE servers, host
addresses, connect watchdog), the paced outbound track that knows what was sent, the inbound
reader, and size-checked events on the data channel. No engine, no dialect: a door joins these
to a conversation (the realtime WebRTC door, the softphone's call door)."""

from bridge.webrtc.channel import EventChannel
from bridge.webrtc.inbound import FrameConverter, consume
from bridge.webrtc.outbound import OutboundQueue, PacedAudioTrack
from bridge.webrtc.peer import Peer, PeerRegistry, PeerSettings
from bridge.webrtc.sdp import OfferSummary, SdpError, check_offer, rewrite_candidates

__all__ = [
    "EventChannel",
    "FrameConverter",
    "OfferSummary",
    "OutboundQueue",
    "PacedAudioTrack",
    "Peer",
    "PeerRegistry",
    "PeerSettings",
    "SdpError",
    "check_offer",
    "consume",
    "rewrite_candidates",
]
