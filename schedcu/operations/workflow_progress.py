"""A workflow followed from the operator's side: read, waited for while its phases print as they change, and
printed (`schedcu submit --wait`, `schedcu workflows show`, the demo, `schedcu dev`)."""

import time
import uuid
from typing import Any

from shared.kernel.states import TERMINAL as TERMINAL_STATES

TERMINAL = {str(s) for s in TERMINAL_STATES}


def workflow(workflow_id: uuid.UUID) -> dict[str, Any] | None:
    from schedcu.queries.versions import workflow_view
    from shared.db.session import transaction

    with transaction() as session:
        return workflow_view(session, workflow_id)


def wait_for(workflow_id: uuid.UUID, timeout_s: float, label: str = "") -> dict[str, Any] | None:
    """Poll the workflow until it ends, printing every phase change as it happens (after `label`)."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, tuple[str, int]] = {}
    view = None
    while time.monotonic() < deadline:
        view = workflow(workflow_id)
        if view is not None:
            for phase in view["phases"]:
                now = (phase["state"], phase["attempt"])
                if seen.get(phase["phase"]) != now:
                    seen[phase["phase"]] = now
                    print(f"  {label}{phase['phase']:<13} {phase['state']:<9} attempt {phase['attempt']}", flush=True)
            if view["state"] in TERMINAL:
                return view
        time.sleep(0.5)
    return view


def print_workflow(view: dict[str, Any]) -> None:
    print(
        f"workflow {view['workflow_id']}  {view['kind']} (trigger {view['trigger']})  request {view['request_id']}  "
        f"group {view['group']}"
    )
    print(f"state {view['state']}  version {view['version_id']}  created {view['created_at']}")
    for p in view["phases"]:
        duration = f"{p['duration_s']:.2f} s" if p["duration_s"] is not None else "-"
        print(
            f"  {p['phase']:<13} {p['state']:<9} attempt {p['attempt']}  started {p['started_at'] or '-'}  "
            f"took {duration}"
        )
        for attempt in p["attempts"]:
            if len(p["attempts"]) > 1:
                print(f"    attempt {attempt['attempt']}")
            for m in attempt["messages"]:
                where = f" [{m['location']}]" if m.get("location") else ""
                print(f"      {m['severity']:<7} {m['code']}: {m['text']}{where}")
