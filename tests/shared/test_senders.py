"""Who may send which message, as the consumers check it: from the registries and the accounts' names."""

import pytest
from pydantic import ValidationError

from schedcu.runtime.registries import senders
from shared.settings import Settings

ACCOUNTS = "schedcu-{name}"


def test_nothing_is_checked_unless_the_worker_logs_in_as_its_own_account() -> None:
    assert senders("versions", ACCOUNTS, "guest") is None
    assert senders("versions", ACCOUNTS, "schedcu-coverage") is None
    assert senders("versions", ACCOUNTS, "schedcu-versions") is not None


@pytest.mark.parametrize(
    ("user_id", "routing_key", "refusal"),
    [
        ("schedcu-amion-scraper", "event.amion.scraped", None),
        ("schedcu-coverage", "event.amion.scraped", "user 'schedcu-coverage' may not send event.amion.scraped"),
        ("schedcu-upstream", "import.requested", None),
        (
            "schedcu-upstream",
            "command.versions.draft",
            "user 'schedcu-upstream' may not send command.versions.draft",
        ),
        ("schedcu-coverage", "command.coverage.calculate", None),
        ("schedcu-versions", "command.coverage.calculate", None),
        ("schedcu-operator", "command.versions.draft", None),
        ("guest", "event.ods.imported", "user 'guest' may not send event.ods.imported"),
        (None, "import.requested", "import.requested carries no AMQP user_id: its sender is unknown"),
    ],
)
def test_each_account_may_send_what_its_registry_publishes(
    user_id: str | None, routing_key: str, refusal: str | None
) -> None:
    checked = senders("versions", ACCOUNTS, "schedcu-versions")
    assert checked is not None and checked.refusal(user_id, routing_key) == refusal


def test_the_accounts_names_must_say_where_the_name_goes() -> None:
    with pytest.raises(ValidationError, match="broker_accounts"):
        Settings(broker_accounts="schedcu-worker")
