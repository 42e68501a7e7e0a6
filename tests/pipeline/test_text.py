from hypothesis import given
from hypothesis import strategies as st

from bridge.pipeline.engines import WARM_UP_CLAUSE
from bridge.pipeline.text import MAX_CLAUSE_CHARS, ClauseSplitter, split_sentences


def stream(text: str, pieces: list[int]) -> list[str]:
    splitter, out, pos = ClauseSplitter(), [], 0
    for size in pieces:
        out += splitter.feed(text[pos : pos + size])
        pos += size
    out += splitter.feed(text[pos:])
    return out + splitter.flush()


def test_sentences_split_at_their_ends() -> None:
    assert split_sentences("Hello there. How are you? Fine!") == [
        "Hello there.",
        "How are you?",
        "Fine!",
    ]


def test_first_clause_is_released_at_a_comma_once_long_enough() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Sure thing, ") == []  # under 12 characters: too short to say alone
    splitter = ClauseSplitter()
    assert splitter.feed("Our store opens at nine, and ") == ["Our store opens at nine,"]


def test_abbreviations_numbers_and_decimals_do_not_split() -> None:
    text = "Dr. Smith sees 1,000 people at 3.30 p.m. daily. Bye."
    assert split_sentences(text) == ["Dr. Smith sees 1,000 people at 3.30 p.m. daily.", "Bye."]


def test_clause_is_released_before_the_reply_ends() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("The weather in Paris is sunny. It") == ["The weather in Paris is sunny."]
    assert splitter.flush() == ["It"]


@given(st.lists(st.integers(min_value=1, max_value=7), max_size=40))
def test_streaming_in_any_pieces_loses_no_words(pieces: list[int]) -> None:
    text = "Well, thank you for calling the clinic. Your appointment, as booked, is on Monday! Bye"
    assert " ".join(stream(text, pieces)).split() == text.split()


def test_a_long_first_sentence_breaks_before_a_phrase_so_speech_starts_sooner() -> None:
    splitter = ClauseSplitter()
    words = (
        "We are open from nine in the morning until five in the evening. And on Saturdays".split()
    )
    out = [clause for word in words for clause in splitter.feed(word + " ")]
    assert out == ["We are open", "from nine in the morning until five in the evening."]
    assert splitter.flush() == ["And on Saturdays"]  # only the first clause breaks early
    assert ClauseSplitter().feed("Go to the ") == []  # three words at least


def test_no_clause_runs_past_the_longest_the_voice_was_warmed_for() -> None:
    run_on = (
        "I have checked the account and the delivery address and the invoice number that you "
        "gave me earlier today and everything looks fine from here"
    )
    clauses = split_sentences(run_on + ".")
    assert clauses == [
        "I have checked the account",  # a first clause breaks early anyway
        "and the delivery address and the invoice number that you gave me earlier today",
        "and everything looks fine from here.",  # broken before a phrase, not inside a word
    ]
    # With no phrase to break before, between words; a single giant word at the limit.
    assert all(len(c) <= MAX_CLAUSE_CHARS for c in split_sentences("word " * 60))
    assert split_sentences("x" * 250) == ["x" * 100, "x" * 100, "x" * 50]


@given(st.text(alphabet="ab ,.", max_size=400), st.lists(st.integers(1, 30), max_size=30))
def test_streamed_clauses_never_exceed_the_limit(text: str, pieces: list[int]) -> None:
    clauses = stream(text, pieces)
    assert all(len(clause) <= MAX_CLAUSE_CHARS for clause in clauses)
    assert "".join(clauses).replace(" ", "") == text.replace(" ", "")


def test_the_voice_is_warmed_with_a_clause_as_long_as_any() -> None:
    assert "." not in WARM_UP_CLAUSE[:-1]  # one sentence: Piper runs its model once for it
    assert MAX_CLAUSE_CHARS * 0.95 <= len(WARM_UP_CLAUSE) <= MAX_CLAUSE_CHARS
