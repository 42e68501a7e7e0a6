"""Phone calls: one async adapter connects any carrier codec to the conversation engine."""
