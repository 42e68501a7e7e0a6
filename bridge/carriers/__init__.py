"""Carrier media protocols as sans-I/O codecs (messages in -> call events; actions -> messages)."""
