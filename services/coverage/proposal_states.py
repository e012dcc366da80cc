"""The lifecycle of a proposal to fill a gap, as a pure state machine.

    PROPOSED --edit--> EDITED --edit--> EDITED
    PROPOSED | EDITED --approve--> APPROVED
    PROPOSED | EDITED --reject--> REJECTED
    PROPOSED | EDITED --obsolete--> OBSOLETE   (coverage found the gap closed)

APPROVED, REJECTED and OBSOLETE are final: nothing leaves them."""

from enum import StrEnum

from shared.kernel.states import ProposalState


class Action(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    APPROVE = "approve"
    REJECT = "reject"
    OBSOLETE = "obsolete"


OPEN = frozenset({ProposalState.PROPOSED, ProposalState.EDITED})

_TARGET: dict[Action, ProposalState] = {
    Action.EDIT: ProposalState.EDITED,
    Action.APPROVE: ProposalState.APPROVED,
    Action.REJECT: ProposalState.REJECTED,
    Action.OBSOLETE: ProposalState.OBSOLETE,
}


class IllegalTransition(Exception):
    """The proposal's state does not allow the action; the text says why, for the operator."""


def transition(state: ProposalState, action: Action) -> ProposalState:
    """The state after `action`; IllegalTransition when `state` does not allow it."""
    if action is Action.CREATE:
        raise IllegalTransition("A proposal is created once, in state PROPOSED.")
    if state not in OPEN:
        raise IllegalTransition(f"The proposal is {state}: it cannot be {_PAST[action]} any more.")
    return _TARGET[action]


_PAST = {Action.EDIT: "edited", Action.APPROVE: "approved", Action.REJECT: "rejected", Action.OBSOLETE: "made obsolete"}
