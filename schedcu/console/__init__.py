"""`schedcu console`: the operators' web console (Starlette, server-rendered Jinja2 pages, no script build).

Workflows, versions, dead letters and status, read through the same functions as the command line; actions
(retry, cancel, promote, archive, redrive, discard) need the operator role and a CSRF token, and are audited
with the user who took them."""
