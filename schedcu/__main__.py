"""`python -m schedcu` and the `schedcu` command. Ctrl-C while the command loads (a command that uses the
database spends a few tenths of a second importing) ends it at once, quietly, with status 130 (128 + SIGINT);
`schedcu/cli/main.py` hands Ctrl-C over to the command once it runs."""

import os
import signal
from types import FrameType


def _interrupted(_signal: int, _frame: FrameType | None) -> None:
    os._exit(128 + signal.SIGINT)  # nothing is written yet: nothing to flush or clean up


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the parent has it ignored
        signal.signal(signal.SIGINT, _interrupted)
    from schedcu.cli.main import main as command

    command()


if __name__ == "__main__":
    main()
