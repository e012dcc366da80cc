"""The broker accounts the fault suite, the cluster bench and the accounts' e2e test create from the definitions
(schedcu/testing/broker_accounts.py), without a broker: what is asked of rabbitmqctl, and that a password shows
nowhere but in the URL that logs in with it."""

import pytest

from schedcu.testing import broker_accounts


class Ctl:
    """rabbitmqctl as the helper calls it: records each command; refuses `add_user` when told to."""

    def __init__(self, refuse_add_user: bool = False) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.refuse_add_user = refuse_add_user

    def __call__(self, *args: str) -> str:
        if self.refuse_add_user and args[0] == "add_user":
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed (70): user already exists")
        self.calls.append(args)
        return ""


def test_each_account_gets_the_definitions_permissions_and_topic_permissions_on_the_vhost() -> None:
    ctl = Ctl()
    accounts = broker_accounts.add_users(ctl, "-run1")
    broker_accounts.grant(ctl, "baseline", accounts.values())

    defined = broker_accounts.definitions()
    assert {a.login for a in accounts.values()} == {f"{u['name']}-run1" for u in defined["users"]}
    permissions = {c[3:] for c in ctl.calls if c[0] == "set_permissions"}
    assert permissions == {(f"{p['user']}-run1", p["configure"], p["write"], p["read"]) for p in defined["permissions"]}
    topics = {c[3:] for c in ctl.calls if c[0] == "set_topic_permissions"}
    assert topics == {(f"{t['user']}-run1", t["exchange"], t["write"], t["read"]) for t in defined["topic_permissions"]}
    assert all(c[1:3] == ("-p", "baseline") for c in ctl.calls if c[0] != "add_user")


def test_a_password_shows_only_in_the_url_that_logs_in_with_it() -> None:
    [coverage] = [a for a in broker_accounts.add_users(Ctl()).values() if a.user == "schedcu-coverage"]
    assert coverage.password not in repr(coverage)
    assert coverage.url("amqp://guest:guest@127.0.0.1:5672,127.0.0.1:5673/faults") == (
        f"amqp://schedcu-coverage:{coverage.password}@127.0.0.1:5672,127.0.0.1:5673/faults"
    )

    with pytest.raises(RuntimeError) as refused:
        broker_accounts.add_users(Ctl(refuse_add_user=True))
    first = broker_accounts.definitions()["permissions"][0]["user"]  # the first user created
    assert f"add_user {first} <password> failed (70): user already exists" in str(refused.value)
    assert refused.value.__suppress_context__  # a traceback leaves out the error that named it
