"""The audit log (`audit_log`): every writer of an audit record goes through `record`."""

from collections.abc import Mapping

from sqlalchemy.orm import Session

from shared.db.models import AuditRecord


def record(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None,
    details: Mapping[str, object],
) -> None:
    """One audit row (who, what, from, to, why), in the caller's transaction."""
    session.add(
        AuditRecord(
            actor=actor,
            entity=entity,
            entity_id=entity_id,
            action=action,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            details=dict(details),
        )
    )
