"""Who may do what with collateral requests: by role, because filing and working the board are different jobs
on the same table (a model permission could not tell them apart)."""

from __future__ import annotations

from typing import Any

from tandem.core.http import require_perm

FILE_ROLES = frozenset({"sales_rep", "sales_manager", "marketing", "admin"})
BOARD_ROLES = frozenset({"marketing", "admin"})


def can_file(user: Any) -> bool:
    """Whether the user may ask marketing for material."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in FILE_ROLES)


def can_work_board(user: Any) -> bool:
    """Whether the user may move requests across the board (marketing and admins)."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") in BOARD_ROLES)


def require_board(user: Any) -> None:
    """Refuse board moves to anyone but marketing and admins."""
    require_perm(
        user, allowed=can_work_board(user), message="only marketing and admins move requests on the board", as_conflict=True
    )


def require_file(user: Any) -> None:
    """Refuse filing requests to viewers."""
    require_perm(user, allowed=can_file(user), message="your role may not file collateral requests", as_conflict=True)
