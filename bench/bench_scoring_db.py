"""Scoring against the database: full refresh throughput and one-person rescoring latency on the demo company.

Run against a database holding the demo company (`tandem demo --no-serve` first), e.g.
    TANDEM_DATABASE_URL=sqlite:////tmp/x/var/tandem.sqlite3 .venv/bin/python bench/bench_scoring_db.py
Trains a model first when none is active. Exits non-zero when one rescore's median exceeds 20 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.utils import timezone  # noqa: E402

from tandem.crm.models import Person  # noqa: E402
from tandem.scoring.models import ModelStatus, ScoringModel  # noqa: E402
from tandem.scoring.selectors import scoring_dataset, scoring_rules_current  # noqa: E402
from tandem.scoring.services import (  # noqa: E402
    _active_pure,
    _score_dataset,
    people_score_refresh,
    person_rescore,
    scoring_model_train,
)

RESCORE_TARGET_MS = 20.0


def main() -> int:
    if not ScoringModel.objects.filter(status=ModelStatus.ACTIVE).exists():
        start = time.perf_counter()
        row = scoring_model_train(horizon_days=90)
        print(f"trained {row.version} ({row.kind}, {row.status}) in {time.perf_counter() - start:.1f} s")
    row, pure = _active_pure()
    assert row is not None and pure is not None
    now = timezone.now()
    rules = scoring_rules_current()
    start = time.perf_counter()
    data = scoring_dataset(cutoff="now", now=now)
    read = time.perf_counter() - start
    open_rows = data.take(np.flatnonzero(~data.closed))
    start = time.perf_counter()
    probabilities = pure.predict_proba(pure.features(open_rows.inputs))
    predict = time.perf_counter() - start
    start = time.perf_counter()
    scores = _score_dataset(open_rows, pure, rules, row, now)
    compute = time.perf_counter() - start
    start = time.perf_counter()
    count = people_score_refresh(now=now)
    total = time.perf_counter() - start
    print(f"people {data.inputs.size}, open {len(scores)}, events {len(data.inputs.events)}")
    print(f"read from the database: {read:.2f} s")
    print(f"features + probability only: {len(probabilities) / predict:,.0f} people/s")
    print(f"features + probability + tiers + value + fit + engagement + explanations (no writes): {len(scores) / compute:,.0f} people/s")
    print(f"full refresh including reads and writes: {count} people in {total:.1f} s = {count / total:,.0f} people/s")
    ids = list(Person.objects.filter(score__isnull=False).order_by("id").values_list("id", flat=True)[:200])
    people = list(Person.objects.filter(id__in=ids))
    timings = []
    for person in people:
        start = time.perf_counter()
        person_rescore(person=person)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    median = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(0.99 * len(timings)))]
    print(f"person_rescore over {len(timings)} people: median {median:.1f} ms, p99 {p99:.1f} ms (target {RESCORE_TARGET_MS:.0f} ms)")
    return 0 if median <= RESCORE_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
