"""The wire layer of ``/v1/realtime``: OpenAI's realtime protocol in both dialects, sans I/O.

* :mod:`~bridge.realtime.dialect` – beta (``OpenAI-Beta: realtime=v1``) or GA.
* :mod:`~bridge.realtime.session_config` – the session configuration, ``session.update``
  validation and ``session`` rendering.
* :mod:`~bridge.realtime.items` – conversation items.
* :mod:`~bridge.realtime.response` – the response resource and ``response.create`` parameters.
* :mod:`~bridge.realtime.events` – server events and :func:`~bridge.realtime.events.render_event`.
* :mod:`~bridge.realtime.client_events` – client frame parsing.
* :mod:`~bridge.realtime.errors` – :class:`~bridge.realtime.errors.CommandError`.

Nothing here touches sockets or clocks; the conversation engine drives it.
"""
