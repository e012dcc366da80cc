"""The ods-importer worker: its queue, its handlers and what it publishes (shared/registry.py)."""

from services.ods_importer.handlers import CONSUMER, HANDLERS
from shared.kernel.contracts import OdsImported, OdsImportFailed
from shared.messaging.topology import ConsumerQueue
from shared.registry import Registry

REGISTRY = Registry(
    ConsumerQueue(CONSUMER, ("command.ods_importer.*",)), HANDLERS, publishes=(OdsImported, OdsImportFailed)
)
