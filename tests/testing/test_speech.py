"""Transcript comparison used by the end-to-end tests."""

from bridge.testing.speech import contains_phrase


def test_contains_phrase_ignores_word_breaks_case_and_punctuation() -> None:
    assert contains_phrase("We are closing now. Good bye.", "goodbye")
    assert contains_phrase("Open Monday-to-Friday.", "monday to friday")
    assert not contains_phrase("We are closing now.", "goodbye")
