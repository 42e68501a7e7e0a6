"""Outbound real-time audio, sans I/O: 20 ms frames paced on absolute deadlines, what the far
end has really heard (marks, or the pacing clock), and clearing on barge-in. Shared by phone
calls and any door that paces its own audio."""
