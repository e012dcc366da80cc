"""Who may send which message, checked by every consumer beyond the broker's own check.

RabbitMQ refuses a publish whose AMQP `user_id` is not the connection's user, and its topic permissions refuse a
routing key an account may not publish; a consumer still checks each message's `user_id` against the accounts that
may send its routing key, so that a broker whose permissions are looser than deploy/rabbitmq/definitions.json (an
administrator's account, a permission widened by hand) cannot make a worker act on a forged message. A message
refused is dead-lettered with the reason, and nobody is answered.
"""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Senders:
    by_routing_key: Mapping[str, frozenset[str]]  # the accounts that may send each routing key
    any_key: frozenset[str]  # the operator's account: the command line and the console send any message

    def refusal(self, user_id: str | None, routing_key: str) -> str | None:
        """Why the message may not be acted on; None when its sender may send it."""
        if user_id is None:
            return f"{routing_key} carries no AMQP user_id: its sender is unknown"
        if user_id in self.any_key or user_id in self.by_routing_key.get(routing_key, frozenset()):
            return None
        return f"user {user_id!r} may not send {routing_key}"
