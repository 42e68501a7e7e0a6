"""The conversation engine: turns, responses, prefetch, barge-in and conversation items.

No sockets, no JSON, no dialects. Doors drive it with typed commands (:mod:`.commands`) and
read the plain-data events it emits (:mod:`.events`); what the listener has heard comes from a
:class:`~bridge.engine.listener.Listener`. The local engine and the upstream relay both
implement :class:`~bridge.engine.conversation.Conversation`.
"""
