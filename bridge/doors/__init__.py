"""The ways in, each a thin async adapter over a protocol core: the realtime WebSocket and
client secrets, carrier WebSockets and webhooks, Asterisk AudioSocket, and the SIP REST API.
Every call and session is admitted by one synchronous step, :func:`Admission.admit`."""
