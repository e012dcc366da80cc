"""FastStream's broker over several RabbitMQ hosts (`shared/messaging/connection.py` says how they are tried)."""

import functools
import logging
from typing import Any

from aio_pika import RobustConnection
from faststream.rabbit import RabbitBroker

from shared.messaging.connection import CONNECT_TIMEOUT_S, FailoverConnection, shown, urls
from shared.messaging.faults import classify, describe

log = logging.getLogger(__name__)


class FailoverBroker(RabbitBroker):
    """FastStream's broker over every host of a multi-host AMQP URL: it connects to the first host that answers
    and keeps a `FailoverConnection`."""

    def __init__(self, url: str, *, timeout: float = CONNECT_TIMEOUT_S, **kwargs: Any) -> None:
        self._urls = urls(url)
        super().__init__(self._urls[0], timeout=timeout, **kwargs)

    async def _connect(self) -> RobustConnection:
        failure: BaseException | None = None
        for url in self._urls:
            self._connection_kwargs.update(
                url=url, connection_class=functools.partial(FailoverConnection, hosts=self._urls)
            )
            try:
                return await super()._connect()
            except Exception as error:
                if not classify(error).transient:
                    raise
                log.info("RabbitMQ at %s did not answer (%s); trying the next host", shown(url), describe(error))
                failure = error
        assert failure is not None
        raise failure
