"""What a command prints cannot drive the terminal: request ids, names, reasons and dead-letter bodies come from
outside, and an escape sequence among them could clear the screen or rewrite what an operator reads."""

import re
import sys
from typing import Any, TextIO

# C0 controls but tab and newline, DEL, C1 controls (U+009B starts a sequence as ESC [ does), and the
# bidirectional overrides and isolates (they reorder the text a reader sees)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with every character that could drive a terminal written as its escape (`\\x1b`) instead."""
    return _UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


class PrintableStream:
    """A text stream that writes `printable(text)` to `stream`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def clear_screen() -> None:
    """The one control sequence a command means to send (`schedcu status --watch`)."""
    out = sys.stdout
    (out.stream if isinstance(out, PrintableStream) else out).write("\033[2J\033[H")
