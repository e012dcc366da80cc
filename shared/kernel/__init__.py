"""The domain kernel: states, people, roles, schedule days, the template model, Amion's data, the coverage and
rest rules, findings, deterministic ids and the message contracts. Pure: no I/O, and no import from the rest of
`shared/` (the infrastructure), which may import it."""
