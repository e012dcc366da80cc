"""`schedcu console [--port P] [--host H]`: the operators' web console, served by uvicorn."""

import argparse
import ipaddress
import sys

from schedcu.cli.arguments import Subparsers, port
from schedcu.errors import UsageMistake

DEFAULT_PORT = 8080


def cmd_console(args: argparse.Namespace) -> int:
    from schedcu.console.http import ConsoleH11Protocol
    from schedcu.console.routes import create_app
    from schedcu.console.users import UsersFileError, WatchedUsers
    from schedcu.runtime.infra import listening
    from shared.serving import serve
    from shared.settings import get_settings

    settings = get_settings()
    if settings.console_users_file is None:
        raise UsageMistake(
            "SCHEDCU_CONSOLE_USERS_FILE is not set: point it to the console users file (README, Console)"
        )
    try:
        users = WatchedUsers(settings.console_users_file)
    except UsersFileError as error:
        raise UsageMistake(str(error)) from None
    sock = listening(args.host, args.port, "give another --port")  # before the URL is printed: it must answer
    if not loopback(sock.getsockname()[0]):
        print(
            f"warning: the console serves plain HTTP on {args.host}: tokens and schedules cross the network in clear; "
            "serve it on 127.0.0.1 behind a TLS proxy (deploy/console-proxy/Caddyfile, README Console)",
            file=sys.stderr,
            flush=True,
        )
    print(f"schedcu console on http://{args.host}:{sock.getsockname()[1]}/ for {len(users.users())} users", flush=True)
    serve(create_app(users, settings), sock, http=ConsoleH11Protocol)
    return 0


def loopback(address: str) -> bool:
    """Whether the console's bound address is this machine only (127.0.0.0/8, ::1)."""
    return ipaddress.ip_address(address).is_loopback


def register(sub: Subparsers) -> None:
    c = sub.add_parser("console", help="the operators' web console (workflows, versions, dead letters, status)")
    c.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    c.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    c.set_defaults(func=cmd_console)
