"""The mistakes `schedcu` reports in one line instead of a traceback, each with its exit status."""

from urllib.parse import urlsplit

USAGE = 2  # the command line is wrong: argparse's own errors, bad ids or dates, missing files, refused input
INFRASTRUCTURE = 3  # PostgreSQL or RabbitMQ cannot be used
FAILURE = 1  # the command ran and the answer is "no": violations, a refused action
INTERRUPTED = 130  # 128 + SIGINT: stopped by Ctrl-C


class Mistake(Exception):
    """Ends the command with `schedcu: <message>` on stderr and `status`."""

    status = FAILURE


class UsageMistake(Mistake):
    status = USAGE


class InfrastructureMistake(Mistake):
    status = INFRASTRUCTURE


def where(url: str) -> str:
    """host:port of a URL (each host of a multi-host AMQP URL), never its user or password."""
    return urlsplit(url).netloc.rpartition("@")[2] or "localhost"
