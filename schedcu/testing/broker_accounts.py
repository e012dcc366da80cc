"""The broker accounts of deploy/rabbitmq/definitions.json on a broker that did not load them (a test's vhost, the
fault suite's private node): each user created with a random password, then given the definitions' permissions
and topic permissions on a vhost, all through `rabbitmqctl`."""

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

DEFINITIONS_PATH = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"

Ctl = Callable[..., Any]  # runs `rabbitmqctl ARGS...` on the broker, raising when it fails


def definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEFINITIONS_PATH.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True)
class Account:
    user: str  # its name in the definitions (`schedcu-coverage`)
    login: str  # the name it was created under: the definitions' name, with a suffix on a shared broker
    password: str = field(repr=False)

    def url(self, amqp_url: str) -> str:
        """`amqp_url` (its hosts and vhost) logging in as this account."""
        url = urlsplit(amqp_url)
        hosts = url.netloc.rpartition("@")[2]
        return urlunsplit(url._replace(netloc=f"{quote(self.login, safe='')}:{quote(self.password, safe='')}@{hosts}"))


def add_users(ctl: Ctl, suffix: str = "", added: Callable[[str], object] = lambda login: None) -> dict[str, Account]:
    """Every user of the definitions, created as its name + `suffix` with a password of its own; by the
    definitions' name. `added(login)` is called once each exists (to delete it later)."""
    accounts = {}
    for user in dict.fromkeys(entry["user"] for entry in definitions()["permissions"]):
        # hex: a password starting with "-" would be read by rabbitmqctl as an option
        account = Account(user, f"{user}{suffix}", secrets.token_hex(16))
        try:
            ctl("add_user", account.login, account.password)
        except Exception as error:  # its message names the command, password included
            raise RuntimeError(str(error).replace(account.password, "<password>")) from None
        added(account.login)
        accounts[user] = account
    return accounts


def grant(ctl: Ctl, vhost: str, accounts: Iterable[Account]) -> None:
    """The definitions' permissions and topic permissions of each account, on `vhost`."""
    defined = definitions()
    for account in accounts:
        for p in (p for p in defined["permissions"] if p["user"] == account.user):
            ctl("set_permissions", "-p", vhost, account.login, p["configure"], p["write"], p["read"])
        for t in (t for t in defined["topic_permissions"] if t["user"] == account.user):
            ctl("set_topic_permissions", "-p", vhost, account.login, t["exchange"], t["write"], t["read"])


def names(suffix: str = "") -> str:
    """The accounts' names as SCHEDCU_BROKER_ACCOUNTS gives them."""
    return f"schedcu-{{name}}{suffix}"
