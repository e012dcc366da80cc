"""Ask a worker to act on one version (`coverage recalc`, `draft new`): the version must exist; the command is
published now (persistent, confirmed, routed; correlation id: the version) and what was asked is printed."""

import asyncio
import sys
import uuid

from schedcu.runtime.registries import all_queues
from shared.db.models import ScheduleVersion
from shared.db.session import transaction
from shared.kernel.contracts import Contract
from shared.messaging.publish import publish_now
from shared.settings import get_settings


def ask(version_id: uuid.UUID, command: Contract, message_id: str, said: str) -> int:
    """0 once `command` is published and `said` printed; 1 (said on stderr) when the version does not exist."""
    with transaction() as session:
        exists = session.get(ScheduleVersion, version_id) is not None
    if not exists:
        print(f"schedule version {version_id} does not exist", file=sys.stderr)
        return 1
    asyncio.run(
        publish_now(get_settings(), command, all_queues(), message_id=message_id, correlation_id=str(version_id))
    )
    print(said, flush=True)
    return 0
