"""StreamText: deltas kept as given, cleaned for the parser (line ends, control characters)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.sanitize import visible_controls
from app.tui.widgets.markdown.stream_text import StreamText


def test_text_is_kept_exactly_as_given() -> None:
    stream = StreamText("start ")
    for delta in ["a\r", "\nb", "\x1b[31m"]:
        stream.add(delta)
    assert stream.text == "start a\r\nb\x1b[31m"


def test_a_crlf_split_across_deltas_is_one_line_end() -> None:
    stream = StreamText()
    assert stream.add("one\r") == "one"  # the "\r" waits for what follows
    assert stream.add("\ntwo\r") == "\ntwo"
    assert stream.add("three") == "\nthree"  # a lone "\r" is a line end too
    assert stream.add("four\r") == "four"
    assert stream.end() == "\n"
    assert stream.end() == ""


def test_reset_starts_again_from_a_complete_text() -> None:
    stream = StreamText()
    stream.add("held\r")
    assert stream.reset("new\r\ntext\r") == "new\ntext\n"
    assert stream.text == "new\r\ntext\r"
    assert stream.end() == ""


def test_control_characters_are_made_visible() -> None:
    assert StreamText().add("a\x1b[2Jb") == visible_controls("a\x1b[2Jb")
    assert "\x1b" not in StreamText().add("a\x1b[2Jb")


@given(st.lists(st.text(alphabet="ab\r\n\x1b ", max_size=6), max_size=12))
def test_cleaning_deltas_one_by_one_equals_cleaning_the_whole(deltas: list[str]) -> None:
    stream = StreamText()
    pieces = [stream.add(delta) for delta in deltas]
    pieces.append(stream.end())
    assert "".join(pieces) == StreamText().reset("".join(deltas))
    assert stream.text == "".join(deltas)
