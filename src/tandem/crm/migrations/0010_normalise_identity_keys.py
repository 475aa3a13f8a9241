# Recomputes the e-mail identity keys stored before e-mail addresses were read by email-validator: a
# punycode domain (ann@xn--bcher-kva.de) now has the key of its Unicode form (ann@bücher.de), so the two
# spellings are one person. A migration never merges people: when the new key is already another person's,
# this person keeps the old key and an event names both; the duplicates page lists the pair for a human to
# merge (tandem.crm.selectors.person_identity_collisions). Phone keys are not stored (computed from the phone as
# typed), so nothing is rewritten for them.

from django.db import migrations
from django.utils import timezone

CHUNK = 2000


def normalise_identity_keys(apps, schema_editor):
    from tandem.crm.identity import MERGED_EMAIL_SYSTEM, email_normalize

    Person = apps.get_model("crm", "Person")
    ExternalId = apps.get_model("crm", "ExternalId")
    Event = apps.get_model("core", "Event")
    now = timezone.now()
    events = []
    wanted: dict[int, tuple[str, str]] = {}
    for pk, old in (
        Person.objects.exclude(email_normalized=None)
        .values_list("pk", "email_normalized")
        .iterator(chunk_size=CHUNK)
    ):
        # The old key already had the plus-tag rule of its time applied: it is kept as it was.
        new = email_normalize(old)
        if new and new != old:
            wanted[pk] = (old, new)
    held = dict(
        Person.objects.filter(email_normalized__in=sorted({new for _, new in wanted.values()})).values_list(
            "email_normalized", "pk"
        )
    )
    changed = []
    for pk, (old, new) in sorted(wanted.items()):
        other = held.get(new)
        if other is not None and other != pk:
            events.append(
                Event(
                    occurred_at=now,
                    kind="person.identity_key_kept",
                    subject_type="crm.person",
                    subject_id=pk,
                    reason="e-mail keys normalised: the new key is another person's; merge them on the duplicates page",
                    data={"key": old, "would_be": new, "held_by": other},
                )
            )
            continue
        held[new] = pk
        changed.append(Person(pk=pk, email_normalized=new))
        events.append(
            Event(
                occurred_at=now,
                kind="person.identity_key_changed",
                subject_type="crm.person",
                subject_id=pk,
                reason="e-mail keys normalised (email-validator)",
                data={"from": old, "to": new},
            )
        )
    Person.objects.bulk_update(changed, ["email_normalized"], batch_size=CHUNK)
    # The e-mails merged into a survivor find it by the same key as a person's own.
    links = []
    taken = set(ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM).values_list("external_id", flat=True))
    for link in ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM).iterator(chunk_size=CHUNK):
        new = email_normalize(link.external_id)
        if new and new != link.external_id and new not in taken:
            taken.add(new)
            link.external_id = new
            links.append(link)
    ExternalId.objects.bulk_update(links, ["external_id"], batch_size=CHUNK)
    Event.objects.bulk_create(events, batch_size=CHUNK)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_stage_change_time_index"),
        ("core", "0005_idempotency_keys"),
    ]

    operations = [
        migrations.RunPython(normalise_identity_keys, migrations.RunPython.noop, elidable=True),
    ]
