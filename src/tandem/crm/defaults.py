"""What a new database starts with: the built-in activity kinds and the default pipeline.

The data migration that introduced them (crm 0004) and `crm_defaults_ensure` (after a flush) read these lists,
so changing them changes what new installs get, never an existing database.
"""

from __future__ import annotations

# key, label, counts as a touch for the SLA, position
BUILTIN_ACTIVITY_KINDS: list[tuple[str, str, bool, int]] = [
    ("call", "Call", True, 0),
    ("email", "Email", True, 1),
    ("meeting", "Meeting", True, 2),
    ("note", "Note", False, 3),
]

DEFAULT_PIPELINE = "Sales"

# name, default probability in percent, kind; open deals of an older install start at the first stage.
DEFAULT_PIPELINE_STAGES: list[tuple[str, int, str]] = [
    ("New", 10, "open"),
    ("Qualified", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]
