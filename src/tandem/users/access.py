"""Record-level access: the one rule saying which people, deals, tasks… a user may see and change.

Model permissions (roles, tandem.users.roles) say *what kind* of record a user may touch; this module says *which
ones*. Every record type names the users it belongs to with `access_paths` on its model (paths to user foreign
keys, the first being its owner), and lists, search, drill-downs, exports, pages and the API all ask here:

- admins (and superusers), marketing and viewers reach every record; viewers never write (their role has no
  change permission, and `access_check(write=True)` refuses them here too);
- a sales manager reaches their own records, the records of every member of the teams they manage or belong to,
  and records nobody owns yet (the queue they route); a manager on no team at all is the head of sales and
  reaches every record;
- a sales rep reaches their own records, and their team's as the team's `rep_access` setting says (see
  `RepAccess`: own only, see the team's, or see and change the team's).

A record a user may not see answers 404 (its existence is not revealed); one they may see but not change answers
403. Model types without `access_paths` are company-wide (campaigns, pipelines, themes…): roles alone govern them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from tandem.core.errors import NotFound
from tandem.core.http import PermissionRefused, role_label
from tandem.users.models import RepAccess, Role, User

M = TypeVar("M", bound=models.Model)

# Roles whose reach is every record (what they may do with it is their role's permissions).
COMPANY_WIDE_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.VIEWER})


@dataclass(frozen=True)
class Reach:
    """Whose records a user reaches: everyone's, or those owned by `owner_ids` (and unowned ones if `unowned`)."""

    everyone: bool
    owner_ids: frozenset[int] = frozenset()
    unowned: bool = False

    @property
    def nothing(self) -> bool:
        return not self.everyone and not self.owner_ids and not self.unowned


NOBODY = Reach(everyone=False)
EVERYONE = Reach(everyone=True)


def access_reach(*, user: Any, write: bool = False) -> Reach:
    """Whose records `user` may see (or change, with `write`): the rule in one place, cached on the user object."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return NOBODY
    cache: dict[bool, Reach] = user.__dict__.setdefault("_tandem_reach", {})
    if write not in cache:
        # Both reaches come from one query, so a page that reads and then changes a record asks once.
        cache[False], cache[True] = _reaches(user=user)
    return cache[write]


def access_scope(*, user: Any) -> tuple[Any, ...]:
    """What `user` sees, as a plain sorted value a report cache can key on: users seeing the same records share
    one cached copy of a report filtered per user (None, an internal read, sees everything)."""
    if user is None:
        return ("everyone",)
    reach = access_reach(user=user)
    if reach.everyone:
        return ("everyone",)
    return ("owners", tuple(sorted(reach.owner_ids)), reach.unowned)


def _reaches(*, user: User) -> tuple[Reach, Reach]:
    """(what the user sees, what they change), at most one query."""
    from tandem.users.models import Team

    if user.is_superuser or user.role == Role.ADMIN:
        return EVERYONE, EVERYONE
    if user.role == Role.VIEWER:
        return EVERYONE, NOBODY
    if user.role in COMPANY_WIDE_ROLES:
        return EVERYONE, EVERYONE
    if user.role == Role.SALES_MANAGER:
        # The teams they lead or sit in, with their members (a team without members still counts).
        teams = Q(manager=user) | (Q(pk=user.team_id) if user.team_id is not None else Q(pk__in=[]))
        rows = list(Team.objects.filter(teams).values_list("id", "members__id"))
        if not rows:
            # A manager who leads no team and sits in none is the head of sales (as users.selectors.user_team_reps
            # reads it): every seller's records are theirs to oversee.
            return EVERYONE, EVERYONE
        members = {member for _, member in rows if member is not None}
        reach = Reach(everyone=False, owner_ids=frozenset(members | {user.pk}), unowned=True)
        return reach, reach
    if user.role == Role.SALES_REP:
        own = Reach(everyone=False, owner_ids=frozenset({user.pk}))
        if user.team_id is None:
            return own, own
        shared = list(Team.objects.filter(pk=user.team_id).values_list("rep_access", "members__id"))
        setting = shared[0][0] if shared else RepAccess.OWN
        team = Reach(everyone=False, owner_ids=frozenset({m for _, m in shared if m is not None} | {user.pk}))
        if setting == RepAccess.TEAM_CHANGE:
            return team, team
        if setting == RepAccess.TEAM_VIEW:
            return team, own
        return own, own
    return NOBODY, NOBODY


def access_paths(model: type[models.Model]) -> tuple[str, ...]:
    """The model's paths to the users its records belong to (empty: a company-wide record type)."""
    return tuple(getattr(model, "access_paths", ()))


def _is_forward(model: type[models.Model], path: str) -> bool:
    """Whether every step of `path` is a forward foreign key (a join that cannot repeat rows)."""
    current: Any = model
    for step in path.split("__"):
        field = current._meta.get_field(step)
        if not (field.is_relation and (field.many_to_one or field.one_to_one) and not field.auto_created):
            return False
        current = field.related_model
    return True


def access_q(model: type[models.Model], *, user: Any, write: bool = False) -> Q | None:
    """The filter selecting the records of `model` that `user` reaches; None when they reach every one."""
    paths = access_paths(model)
    reach = access_reach(user=user, write=write)
    if not paths or reach.everyone:
        return None
    if reach.nothing:
        return Q(pk__in=[])
    q = Q(pk__in=[])
    for i, path in enumerate(paths):
        clause = Q(**{f"{path}__in": sorted(reach.owner_ids)}) if reach.owner_ids else Q(pk__in=[])
        # Only the owner path (the first) makes a record "unowned"; a record is not the queue's because, say,
        # its activity has no author.
        if reach.unowned and i == 0:
            clause |= Q(**{f"{path}__isnull": True})
        if not _is_forward(model, path):
            # A reverse path (an account reached through its people) would repeat rows in a join: use a subquery.
            clause = Q(pk__in=model._default_manager.filter(clause).values("pk"))
        q |= clause
    return q


def access_filter(qs: QuerySet[M], *, user: Any, write: bool = False) -> QuerySet[M]:
    """`qs` narrowed to the records `user` may see (or change, with `write`)."""
    q = access_q(qs.model, user=user, write=write)
    return qs if q is None else qs.filter(q)


def access_seen(qs: QuerySet[M], *, user: Any) -> QuerySet[M]:
    """`qs` as `user` may see it; user None is an internal read (a job, the CLI, a report total) and sees all."""
    return qs if user is None else access_filter(qs, user=user)


def access_allows(obj: models.Model, *, user: Any, write: bool = False) -> bool:
    """Whether `user` may see (or change, with `write`) this one record."""
    model = type(obj)
    paths = access_paths(model)
    reach = access_reach(user=user, write=write)
    if not paths or reach.everyone:
        return True
    if reach.nothing:
        return False
    simple = [("__" not in p and _is_forward(model, p)) for p in paths]
    # Owners that are foreign keys on the row itself are decided without a query.
    for i, path in enumerate(paths):
        if simple[i]:
            owner_id = getattr(obj, f"{path}_id")
            if (owner_id is None and reach.unowned and i == 0) or (owner_id is not None and owner_id in reach.owner_ids):
                return True
    if all(simple):
        return False
    q = access_q(model, user=user, write=write)
    return model._default_manager.filter(q, pk=obj.pk).exists()


def access_check(obj: M, *, user: Any, write: bool = False, what: str | None = None) -> M:
    """Return `obj` if `user` may see it (and change it, with `write`); 404 when it is out of sight, 403 when read-only."""
    label = what or obj._meta.verbose_name
    if not access_allows(obj, user=user, write=False):
        # Out of sight: answer as if it did not exist, so ids cannot be probed.
        raise NotFound(f"no {label} with id {obj.pk}", field="id", value=obj.pk)
    if write and not access_allows(obj, user=user, write=True):
        raise PermissionRefused(f"{role_label(user)} may see this {label} but not change it (it is not yours)")
    return obj


def access_owner_allowed(*, user: Any, owner_id: int | None) -> bool:
    """Whether `user` may give a record to `owner_id` (None: leave it unowned): within their own write reach."""
    reach = access_reach(user=user, write=True)
    if reach.everyone:
        return True
    if owner_id is None:
        return reach.unowned
    return owner_id in reach.owner_ids


def owner_for(user: Any, owner: Any, *, field: str = "owner_id") -> Any:
    """The owner a record `user` creates or reassigns gets: as asked if within their reach; a rep's own when unset.

    Refuses (403) giving a record to someone outside the user's write reach, so a rep cannot hand work to another
    team; a rep who names nobody becomes the owner, so what they create stays theirs to see.
    """
    reach = access_reach(user=user, write=True)
    if owner is None and not reach.everyone and not reach.unowned:
        return user
    owner_id = getattr(owner, "pk", None)
    if not access_owner_allowed(user=user, owner_id=owner_id):
        raise PermissionRefused(
            f"{role_label(user)} may not give records to {getattr(owner, 'username', owner_id)} ({field})"
        )
    return owner


def owner_change(user: Any, *, current_id: int | None, owner: Any, field: str = "owner_id") -> Any:
    """The owner a record gets on an edit: keeping its owner needs no right over them; giving it away does."""
    return owner if getattr(owner, "pk", None) == current_id else owner_for(user, owner, field=field)


def owner_choices(user: Any, candidates: list[Any]) -> list[Any]:
    """The candidate owners `user` may give records to (a rep: themselves; a manager: their teams)."""
    return [u for u in candidates if access_owner_allowed(user=user, owner_id=u.pk)]
