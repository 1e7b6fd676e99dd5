"""Splits the raw AMI byte stream into immutable frames and error records; never raises."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BANNER_PREFIX",
    "Banner",
    "Frame",
    "FrameError",
    "FrameParser",
    "Message",
    "parse_frames",
]

BANNER_PREFIX: Final = "Asterisk Call Manager/"
END_COMMAND: Final = "--END COMMAND--"
MAX_LINE: Final = 64 * 1024
MAX_LINES_PER_FRAME: Final = 4096
EXCERPT: Final = 200

# Wireshark writes this into captures where packets were lost; what followed it on the line is
# real AMI text, what preceded it (the rest of the block) is incomplete.
_GAP = re.compile(rb"^\[(\d+) bytes missing in capture file\]")
# Header names are printable ASCII without spaces or colons ("ChanVariable", "Actionid", ...).
_HEADER = re.compile(r"^([!-9;-~]+):(?: (.*)|)$", re.DOTALL)
# Only OriginateResponse carries "Response:" as an ordinary header; anywhere else a "Response:"
# line inside an event means two blocks were merged without the blank separator line.
_EVENTS_WITH_RESPONSE_HEADER: Final = frozenset({"originateresponse"})


class Frame(Mapping[str, str]):
    """One AMI block: ordered `Key: Value` pairs, duplicates kept, case-insensitive lookup.

    `frame["ChanVariable"]` gives the first value, `frame.getall("ChanVariable")` all of them.
    """

    __slots__ = ("_index", "_pairs", "output")

    def __init__(self, pairs: tuple[tuple[str, str], ...], output: tuple[str, ...] = ()) -> None:
        self._pairs = pairs
        self.output = output
        index: dict[str, list[str]] = {}
        for key, value in pairs:
            index.setdefault(key.lower(), []).append(value)
        self._index = {key: tuple(values) for key, values in index.items()}

    @classmethod
    def _built(cls, pairs: tuple[tuple[str, str], ...], index: dict[str, tuple[str, ...]]) -> Frame:
        """A frame whose index the fast parser already made."""
        frame = cls.__new__(cls)
        frame._pairs = pairs
        frame.output = ()
        frame._index = index
        return frame

    @classmethod
    def of(cls, *pairs: tuple[str, str], output: tuple[str, ...] = ()) -> Frame:
        """Build a frame from pairs (for tests and fakes)."""
        return cls(tuple(pairs), output)

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The headers in wire order, duplicates included."""
        return self._pairs

    def getall(self, key: str) -> tuple[str, ...]:
        """Every value of a header, in wire order (empty if absent)."""
        return self._index.get(key.lower(), ())

    def __getitem__(self, key: str) -> str:
        values = self._index.get(key.lower())
        if not values:
            raise KeyError(key)
        return values[0]

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._pairs:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self._pairs == other._pairs and self.output == other.output

    def __hash__(self) -> int:
        return hash((self._pairs, self.output))

    def __repr__(self) -> str:
        return f"Frame({dict(self._pairs)!r})"

    @property
    def kind(self) -> str:
        """`event`, `response` or `action` (whichever head header the block has)."""
        if "event" in self._index:
            return "event"
        if "response" in self._index:
            return "response"
        return "action"

    @property
    def name(self) -> str:
        """The event name, the response status or the action name."""
        return self.get(self.kind.capitalize(), "")


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line Asterisk sends on connect (`Asterisk Call Manager/11.0.0`)."""

    version: str


@dataclass(frozen=True, slots=True)
class FrameError:
    """A block that could not be read; it is logged and skipped, never raised."""

    reason: str
    excerpt: str


Message = Frame | Banner | FrameError


def _excerpt(lines: list[str]) -> str:
    text = "\\r\\n".join(lines)
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "..."


class FrameParser:
    """Incremental AMI parser: feed it chunks as they arrive, in any split, get whole messages.

    Decisions are taken on complete lines only, so any chunking of a stream yields exactly
    what parsing it in one piece yields.
    """

    def __init__(self, skip: Callable[[bytes], bool] | None = None) -> None:
        # `skip` may drop whole plain blocks unread (e.g. VarSets of other variables).
        self._skip = skip
        self._partial = bytearray()
        self._skipping_long_line = False
        self._lines: list[str] = []
        self._pairs: list[tuple[str, str]] = []
        self._output: list[str] = []
        self._in_output = False
        self._corrupt: str | None = None

    def feed(self, data: bytes | str) -> list[Message]:
        """Consume a chunk and return the messages it completed."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        out: list[Message] = []
        start = 0
        if not self._clean():
            # Finish the block in progress carefully; whole blocks after it can go fast.
            first = data.find(b"\r\n\r\n")
            if first < 0:
                self._careful(data, out)
                return out
            self._careful(data[: first + 4], out)
            data = data[first + 4 :]
        if self._clean():
            # Fast path: whole blocks are split at once; anything unusual in a block takes
            # the careful line-by-line path below, which gives the same result for it.
            end = data.rfind(b"\r\n\r\n")
            if end >= 0:
                skip = self._skip
                for block in data[:end].split(b"\r\n\r\n"):
                    if skip is not None and skip(block):
                        continue
                    frame = _plain_frame(block)
                    if frame is None:
                        self._careful(block + b"\r\n\r\n", out)
                    else:
                        out.append(frame)
                start = end + 4
        self._careful(data[start:], out)
        return out

    def _clean(self) -> bool:
        return not (self._partial or self._lines or self._skipping_long_line or self._in_output)

    def _careful(self, data: bytes, out: list[Message]) -> None:
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            if self._skipping_long_line:
                self._skipping_long_line = False
            else:
                self._partial += data[start:newline]
                self._line(bytes(self._partial), out)
            self._partial.clear()
            start = newline + 1
        if not self._skipping_long_line:
            self._partial += data[start:]
            if len(self._partial) > MAX_LINE:
                self._partial.clear()
                self._skipping_long_line = True
                self._mark_corrupt(f"line longer than {MAX_LINE} bytes")

    def close(self) -> list[Message]:
        """End of stream: flush the last unterminated line and block."""
        out: list[Message] = []
        if self._partial and not self._skipping_long_line:
            self._line(bytes(self._partial), out)
        self._partial.clear()
        self._skipping_long_line = False
        self._end_block(out)
        return out

    def _mark_corrupt(self, reason: str) -> None:
        if self._corrupt is None:
            self._corrupt = reason
        if not self._lines:
            self._lines.append("<discarded>")

    def _line(self, raw: bytes, out: list[Message]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        gap = _GAP.match(raw)
        if gap:
            # Whatever was collected before the gap lost its tail: report it, start afresh.
            if self._lines:
                self._mark_corrupt("block cut by a capture gap")
                self._end_block(out)
            out.append(FrameError(f"capture gap: {gap.group(1).decode()} bytes missing", ""))
            raw = raw[gap.end() :]
            if not raw.strip():
                return
        line = raw.decode("utf-8", "replace")
        if not line.strip():
            self._end_block(out)
            return
        if not self._lines and line.startswith(BANNER_PREFIX):
            out.append(Banner(line[len(BANNER_PREFIX) :]))
            return
        if len(self._lines) >= MAX_LINES_PER_FRAME:
            self._mark_corrupt(f"block longer than {MAX_LINES_PER_FRAME} lines")
            return
        if self._in_output:
            self._lines.append(line)
            if line != END_COMMAND:
                self._output.append(line)
            return
        header = _HEADER.match(line)
        if header is None:
            if self._is_follows():
                # Asterisk < 12 answers Command with raw console output up to --END COMMAND--.
                self._in_output = True
                self._lines.append(line)
                if line != END_COMMAND:
                    self._output.append(line)
                return
            self._lines.append(line)
            self._mark_corrupt("line is not `Key: Value`")
            return
        key, value = header.group(1), header.group(2) or ""
        if self._starts_merged_block(key):
            self._end_block(out)
        self._lines.append(line)
        self._pairs.append((key, value))

    def _is_follows(self) -> bool:
        return any(k.lower() == "response" and v == "Follows" for k, v in self._pairs)

    def _starts_merged_block(self, key: str) -> bool:
        lowered = key.lower()
        if lowered not in ("event", "response") or not self._pairs:
            return False
        event = next((v for k, v in self._pairs if k.lower() == "event"), None)
        has_response = any(k.lower() == "response" for k, _ in self._pairs)
        if lowered == "event":
            return event is not None or has_response
        if has_response:
            return True
        return event is not None and event.lower() not in _EVENTS_WITH_RESPONSE_HEADER

    def _end_block(self, out: list[Message]) -> None:
        if self._lines:
            if self._corrupt is not None:
                out.append(FrameError(self._corrupt, _excerpt(self._lines)))
            elif not any(k.lower() in ("event", "response", "action") for k, _ in self._pairs):
                out.append(
                    FrameError("block has no Event, Response or Action", _excerpt(self._lines))
                )
            else:
                out.append(Frame(tuple(self._pairs), tuple(self._output)))
        self._lines = []
        self._pairs = []
        self._output = []
        self._in_output = False
        self._corrupt = None


_KEY_LOWER: dict[str, str] = {}  # header names seen and found valid, with their lower case


def _plain_frame(block: bytes) -> Frame | None:
    """A block of plain `Key: Value` lines as a Frame; None if it needs the careful path."""
    if not block or len(block) > MAX_LINE or block[:1] == b"[":
        return None
    text = block.decode("utf-8", "replace")
    if "\n" in text.replace("\r\n", "") or text.startswith(BANNER_PREFIX):
        return None
    pairs: list[tuple[str, str]] = []
    index: dict[str, list[str]] = {}
    lowers = _KEY_LOWER
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        lowered = lowers.get(key)
        if lowered is None:
            if not sep or not key.isascii() or not key.isprintable() or " " in key or ":" in key:
                return None
            if len(lowers) < 4096:  # header names are few; never let odd input grow this
                lowers[key] = key.lower()
            lowered = key.lower()
        elif not sep:
            return None
        pairs.append((key, value))
        values = index.get(lowered)
        if values is None:
            index[lowered] = [value]
        else:
            values.append(value)
    heads = sum(len(index.get(k, ())) for k in ("event", "response", "action"))
    if heads != 1 or index.get("response") == ["Follows"] or len(pairs) > MAX_LINES_PER_FRAME:
        return None
    return Frame._built(tuple(pairs), {k: tuple(v) for k, v in index.items()})


def parse_frames(data: bytes | str) -> list[Message]:
    """Parse a whole stream (a trace file, a test string) in one go."""
    parser = FrameParser()
    return parser.feed(data) + parser.close()
