"""The AMI frame parser: wire quirks from the recordings, and a fuzz test that it never raises."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.asterisk.events import Hangup, UnknownEvent, decode
from connectors.asterisk.frames import Banner, Frame, FrameError, FrameParser, parse_frames

TRACES = Path(__file__).parents[3].parent / "shared" / "ami-traces"
REAL = sorted(TRACES.glob("*.ami"))


def test_banner_then_block_without_blank_line() -> None:
    messages = parse_frames(
        b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n"
    )
    assert messages == [Banner("11.0.0"), Frame.of(("Response", "Success"), ("ActionID", "1"))]


def test_duplicate_keys_and_case_insensitive_lookup() -> None:
    (frame,) = parse_frames(b"Event: Newchannel\r\nChanVariable: a=1\r\nchanvariable: b=2\r\n\r\n")
    assert isinstance(frame, Frame)
    assert frame["CHANVARIABLE"] == "a=1"
    assert frame.getall("ChanVariable") == ("a=1", "b=2")
    assert frame.kind == "event" and frame.name == "Newchannel"


def test_command_follows_output() -> None:
    data = (TRACES / "panoramisk__command_response.ami").read_bytes()
    response = parse_frames(data)[1]
    assert isinstance(response, Frame)
    assert response.output == (
        "Channel              Location             State   Application(Data)             ",
        "0 active channels",
        "0 active calls",
        "2 calls processed",
    )


def test_merged_blocks_are_split() -> None:
    data = b"Event: A\r\nX: 1\r\nEvent: B\r\nY: 2\r\nResponse: Success\r\nActionID: 9\r\n\r\n"
    assert parse_frames(data) == [
        Frame.of(("Event", "A"), ("X", "1")),
        Frame.of(("Event", "B"), ("Y", "2")),
        Frame.of(("Response", "Success"), ("ActionID", "9")),
    ]


def test_originate_response_keeps_its_response_header() -> None:
    (frame,) = parse_frames(b"Event: OriginateResponse\r\nActionID: 3\r\nResponse: Success\r\n\r\n")
    assert isinstance(frame, Frame) and frame["Response"] == "Success"


def test_capture_gap_and_garbage_become_error_records() -> None:
    data = (
        b"Event: Hangup\r\nChannel: X\r\n[12 bytes missing in capture file]Event: VarSet\r\n"
        b"Variable: A\r\n\r\n\x00\xff\xfe junk\r\n\r\nUniqueid: 1.2\r\n\r\n"
    )
    messages = parse_frames(data)
    assert [type(m) for m in messages] == [FrameError, FrameError, Frame, FrameError, FrameError]
    assert messages[1] == FrameError("capture gap: 12 bytes missing", "")
    assert messages[2] == Frame.of(("Event", "VarSet"), ("Variable", "A"))


def test_overlong_line_is_dropped_without_unbounded_memory() -> None:
    parser = FrameParser()
    for _ in range(100):
        assert parser.feed(b"x" * 10_000) == []
    out = parser.feed(b"\r\n\r\nEvent: Ping\r\n\r\n")
    assert isinstance(out[0], FrameError) and out[1] == Frame.of(("Event", "Ping"))


def test_event_timestamp_header_wins_over_receive_time() -> None:
    received = datetime(2026, 1, 1, tzinfo=UTC)
    frame = Frame.of(
        ("Event", "Hangup"),
        ("Timestamp", "1795396328.250000"),
        ("Channel", "PJSIP/8001-00000001"),
        ("Uniqueid", "1.1"),
        ("Cause", "16"),
    )
    event = decode(frame, received)
    assert isinstance(event, Hangup)
    assert event.at == datetime(2026, 11, 23, 1, 12, 8, 250000, tzinfo=UTC)
    assert event.cause == 16
    damaged = decode(Frame.of(("Event", "Hangup"), ("Cause", "16")), received)
    assert damaged == UnknownEvent("Hangup", received, "no Channel/Uniqueid")


def _chunked(data: bytes, cuts: list[int]) -> list[object]:
    parser = FrameParser()
    out: list[object] = []
    start = 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)):
        out += parser.feed(data[start:cut])
        start = cut
    out += parser.feed(data[start:])
    return out + parser.close()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(REAL), st.lists(st.integers(min_value=0, max_value=200_000), max_size=40))
def test_any_split_of_a_real_trace_parses_like_one_shot(path: Path, cuts: list[int]) -> None:
    data = path.read_bytes()
    assert _chunked(data, cuts) == parse_frames(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=2000), max_size=10))
def test_random_bytes_never_raise_and_split_identically(data: bytes, cuts: list[int]) -> None:
    whole = parse_frames(data)
    assert _chunked(data, cuts) == whole
    received = datetime(2026, 1, 1, tzinfo=UTC)
    for message in whole:
        if isinstance(message, Frame) and message.kind == "event":
            decode(message, received)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["Event: Hangup", "Response: Success", "", "Channel: X", "Cause: ab"]),
            st.text(max_size=40),
        ),
        max_size=30,
    ),
    st.lists(st.integers(min_value=0, max_value=1000), max_size=10),
)
def test_random_ami_like_text_never_raises(lines: list[str], cuts: list[int]) -> None:
    text = "\r\n".join(lines)
    whole = parse_frames(text)
    assert _chunked(text.encode("utf-8", "surrogatepass"), cuts) == whole
