"""The audit log: who changed what, when, why and under which rule, with the old and new values (admins only).

Why it stands in crm (floor 2): the log reads core's event rows and the users who acted, and a person's history
needs crm's tables: the person found by e-mail (or by an e-mail merged away), the person's lifecycle stage history
(`crm.StageChange`: the stage service records moves there rather than as events, and bulk imports write millions),
and the events of the person's deals, activities and tasks, which do not repeat the person in their data. Nothing
above crm is read: the events of the rooms above are rows of core's table like any other, and the links to their
pages are URL names. So crm is the lowest floor holding everything the log points at (docs/architecture.md,
"Where a new capability goes"); `users` would not do, it cannot read people. `selectors.py` holds the reads,
`views.py` the page at /audit/, `api.py` `GET /api/audit/events`, and `crm/management/commands/audit.py` the
`tandem audit` command; none of them writes.
"""
