"""Each schema in the OpenAPI document is one class: django-ninja names components by class name, so two classes of
one name silently share a component and one operation is documented with the other's body."""

from __future__ import annotations

from collections import defaultdict

from ninja import Schema

import tandem.api  # noqa: F401  (imports every router, so every schema class exists)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


def test_no_two_api_schema_classes_share_a_name() -> None:
    # given every schema class of ours
    by_name: dict[str, set[str]] = defaultdict(set)
    for cls in _subclasses(Schema):
        if cls.__module__.startswith("tandem."):
            by_name[cls.__name__].add(cls.__module__)
    # then no name is used by two modules
    assert {name: sorted(mods) for name, mods in by_name.items() if len(mods) > 1} == {}
