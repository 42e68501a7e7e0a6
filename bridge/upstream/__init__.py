"""Conversations that run elsewhere: the relay to an upstream ``/v1/realtime`` server."""
