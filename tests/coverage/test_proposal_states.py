"""The proposal lifecycle: PROPOSED -> EDITED -> APPROVED | REJECTED | OBSOLETE, and nothing else."""

import pytest

from services.coverage.proposal_states import OPEN, Action, IllegalTransition, transition
from shared.kernel.states import ProposalState as S

LEGAL = {
    (S.PROPOSED, Action.EDIT): S.EDITED,
    (S.EDITED, Action.EDIT): S.EDITED,
    (S.PROPOSED, Action.APPROVE): S.APPROVED,
    (S.EDITED, Action.APPROVE): S.APPROVED,
    (S.PROPOSED, Action.REJECT): S.REJECTED,
    (S.EDITED, Action.REJECT): S.REJECTED,
    (S.PROPOSED, Action.OBSOLETE): S.OBSOLETE,
    (S.EDITED, Action.OBSOLETE): S.OBSOLETE,
}


@pytest.mark.parametrize(("state", "action"), list(LEGAL))
def test_an_open_proposal_can_be_edited_approved_rejected_or_made_obsolete(state: S, action: Action) -> None:
    assert transition(state, action) is LEGAL[state, action]


@pytest.mark.parametrize("state", [S.APPROVED, S.REJECTED, S.OBSOLETE])
@pytest.mark.parametrize("action", [Action.EDIT, Action.APPROVE, Action.REJECT, Action.OBSOLETE])
def test_a_decided_proposal_never_moves_again(state: S, action: Action) -> None:
    with pytest.raises(IllegalTransition, match=f"^The proposal is {state}: it cannot be .* any more.$"):
        transition(state, action)


def test_every_pair_not_listed_is_refused_and_creating_is_no_transition() -> None:
    for state in S:
        for action in Action:
            if (state, action) in LEGAL:
                continue
            with pytest.raises(IllegalTransition):
                transition(state, action)
    assert {S.PROPOSED, S.EDITED} == OPEN


def test_the_refusal_names_the_state_and_the_step() -> None:
    with pytest.raises(IllegalTransition) as refused:
        transition(S.APPROVED, Action.EDIT)
    assert str(refused.value) == "The proposal is APPROVED: it cannot be edited any more."
