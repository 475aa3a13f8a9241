"""Theme mining on the demo company's questions: recovery, labels, assignment, edits, trends, lost deals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score
from statsmodels.stats.proportion import proportion_confint

from tandem.core.errors import ValidationFailed
from tandem.demo.company import QUESTION_TEMPLATES, generate_company, question_text
from tandem.feedback.themes import (
    UNASSIGNED,
    ThemeModel,
    theme_loss_association,
    theme_rename,
    theme_split,
    theme_trends,
    themes_assign,
    themes_discover,
    themes_merge,
)

# A word a reader expects in the label of each generated theme (any one of them).
CORE_WORDS = {
    "pricing": {"price", "cost", "discount"},
    "integrations": {"integration", "integrate", "sync"},
    "security": {"security", "compliance"},
    "implementation": {"implementation", "rollout"},
    "contract": {"contract", "terms"},
    "competitors": {"compare", "competitor", "different", "switch"},
    "roi": {"roi", "results"},
    "support": {"support"},
    "migration": {"migrate", "migration", "import"},
    "scalability": {"scale", "performance"},
}


@pytest.fixture(scope="module")
def demo() -> tuple[list[str], np.ndarray]:
    company = generate_company(people=11000, seed=7, end=dt.date(2026, 6, 1))
    return [q.text for q in company.questions], np.array([q.theme for q in company.questions])


@pytest.fixture(scope="module")
def model(demo: tuple[list[str], np.ndarray]) -> ThemeModel:
    texts, _ = demo
    return themes_discover(texts, seed=0)


def _held_out(n: int, seed: int, themes: list[str] | None = None) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    names = themes or sorted(QUESTION_TEMPLATES)
    truth = [rnd.choice(names) for _ in range(n)]
    return [question_text(rnd, theme) for theme in truth], truth


def _majority(ids: np.ndarray, truth: np.ndarray) -> dict[int, str]:
    return {int(i): Counter(truth[ids == i].tolist()).most_common(1)[0][0] for i in np.unique(ids) if i >= 0}


def test_discovery_recovers_the_demo_themes(demo, model):
    # given the demo company's questions with the generator's ten themes
    texts, truth = demo
    assert len(texts) >= 1500

    # when themes are discovered with the number of themes chosen automatically
    ids = themes_assign(model, texts)

    # then the partition agrees with the generator's: ARI at least 0.7 with about ten themes
    ari = adjusted_rand_score(truth, ids)
    print(f"demo questions: {len(texts)}, themes found: {len(model.themes)}, ARI {ari:.3f}")
    assert ari >= 0.7
    assert 8 <= len(model.themes) <= 12


def test_ten_themes_asked_for_also_recover_the_demo_themes(demo):
    # given the demo questions
    texts, truth = demo

    # when exactly ten themes are asked for, with another seed
    fixed = themes_discover(texts, k=10, seed=3)

    # then ten themes come back and the ARI is at least 0.7
    ari = adjusted_rand_score(truth, themes_assign(fixed, texts))
    print(f"k=10, seed 3: ARI {ari:.3f}")
    assert len(fixed.themes) == 10
    assert ari >= 0.7


def test_counts_are_the_themes_assignment_gives_the_training_texts(demo):
    # given a model that assigns every text with a known word (no "other" threshold)
    texts, _ = demo
    everything = themes_discover(texts, k=10, min_similarity=-1.0)

    # when the training texts are assigned again
    ids = themes_assign(everything, texts)

    # then each theme's count is the number of texts it gets, and ids run 1.. by decreasing size
    counts = Counter(ids.tolist())
    assert {t.id: t.count for t in everything.themes} == {i: counts[i] for i in everything.ids}
    assert everything.ids == list(range(1, 11))
    assert [t.count for t in everything.themes] == sorted((t.count for t in everything.themes), reverse=True)


def test_labels_are_distinct_readable_and_made_of_words_from_the_texts(demo, model):
    # given the demo model
    texts, truth = demo
    words = {w.lower() for text in texts for w in re.findall(r"[\w-]+", text)}
    majority = _majority(themes_assign(model, texts), truth)

    # when the labels are read
    labels = [t.label for t in model.themes]

    # then they differ, each part is a word of the texts, and most name their theme's core word
    assert len({label.casefold() for label in labels}) == len(labels)
    for label in labels:
        parts = label.split(" · ")
        assert len(parts) == 3
        assert all(part.lower() in words for part in parts), label
    named = [
        t for t in model.themes if {p.lower() for p in t.label.split(" · ")} & CORE_WORDS[majority[t.id]]
    ]
    print({t.id: (majority[t.id], t.label) for t in model.themes})
    assert len(named) >= 0.8 * len(model.themes)


def test_examples_are_central_texts_of_their_own_theme(demo, model):
    # given the demo model
    texts, _ = demo

    # when each theme's examples are assigned
    for theme in model.themes:
        # then there are three distinct examples, taken from the texts, and they belong to the theme
        assert len(theme.examples) == 3
        assert len(set(theme.examples)) == 3
        assert set(theme.examples) <= set(texts)
        assert themes_assign(model, list(theme.examples)).tolist() == [theme.id] * 3


def test_new_questions_go_to_the_right_named_theme(demo, model):
    # given the demo model, each theme named after the generator's theme most of its texts come from
    texts, truth = demo
    majority = _majority(themes_assign(model, texts), truth)
    for theme_id, name in majority.items():
        model = theme_rename(model, theme_id, f"{name} ({theme_id})")
    held_texts, held_truth = _held_out(500, seed=11)

    # when 500 new questions the model has not seen are assigned
    ids = themes_assign(model, held_texts)

    # then at least 80 % land in the theme named after their true theme
    accuracy = np.mean([i >= 0 and majority[int(i)] == t for i, t in zip(ids, held_truth, strict=True)])
    print(f"held-out accuracy {accuracy:.3f}")
    assert accuracy >= 0.8
    assert {t.label for t in model.themes} == {f"{name} ({i})" for i, name in majority.items()}


def test_text_without_known_words_is_unassigned(model):
    # given the demo model
    # when texts with no known word (or nothing at all) are assigned
    ids = themes_assign(model, ["Zyxqv wobble frumious?", "", "1234 !!"])

    # then they are "other"
    assert ids.tolist() == [UNASSIGNED] * 3


def test_merge_adds_counts_and_attracts_both_groups(demo, model):
    # given the themes where pricing and support questions land
    texts, truth = demo
    majority = _majority(themes_assign(model, texts), truth)
    pricing = next(i for i, name in majority.items() if name == "pricing")
    support = next(i for i, name in majority.items() if name == "support")
    a, b = model.theme(pricing), model.theme(support)

    # when support is merged into pricing
    merged = themes_merge(model, pricing, support)

    # then one theme fewer, the id of pricing, both counts, the count-weighted centroid
    theme = merged.theme(pricing)
    assert len(merged.themes) == len(model.themes) - 1
    assert support not in merged.ids
    assert theme.count == a.count + b.count
    expected = a.count * a.centroid + b.count * b.centroid
    np.testing.assert_allclose(theme.centroid, expected / np.linalg.norm(expected), rtol=0, atol=1e-12)
    assert sum(t.count for t in merged.themes) == sum(t.count for t in model.themes)
    # and new pricing and support questions both go to it
    for name in ("pricing", "support"):
        held, _ = _held_out(100, seed=5, themes=[name])
        share = np.mean(themes_assign(merged, held) == pricing)
        assert share >= 0.8, (name, share)
    assert len({t.label for t in merged.themes}) == len(merged.themes)


def test_a_renamed_label_survives_a_merge_and_duplicates_are_refused(model):
    # given a theme renamed by marketing
    first, second, third = model.ids[:3]
    named = theme_rename(model, first, "  Money   talk ")

    # when another theme is merged into it
    merged = themes_merge(named, first, second)

    # then the label stays (whitespace tidied) and another theme cannot take the same name
    assert merged.theme(first).label == "Money talk"
    assert merged.theme(first).renamed
    with pytest.raises(ValidationFailed) as err:
        theme_rename(merged, third, "money TALK")
    assert err.value.field == "label"


def test_split_recovers_two_planted_subgroups(demo, model):
    # given the demo model with support merged into pricing: one theme planted with two groups
    texts, truth = demo
    majority = _majority(themes_assign(model, texts), truth)
    pricing = next(i for i, name in majority.items() if name == "pricing")
    support = next(i for i, name in majority.items() if name == "support")
    merged = themes_merge(model, pricing, support)
    ids = themes_assign(merged, texts)
    group = [text for text, i in zip(texts, ids, strict=True) if i == pricing]
    group_truth = [t for t, i in zip(truth, ids, strict=True) if i == pricing]
    assert set(group_truth) == {"pricing", "support"}

    # when that theme is split in two with its texts
    split = theme_split(merged, pricing, group, k=2)

    # then the old id is gone, two new ids take its place and hold all its texts, separating the groups
    new = [merged.next_id, merged.next_id + 1]
    expected_ids = [j for i in merged.ids for j in (new if i == pricing else [i])]
    assert split.ids == expected_ids
    assert split.next_id == merged.next_id + 2
    assert len(split.themes) == len(merged.themes) + 1
    sub_ids = themes_assign(split, group)
    ari = adjusted_rand_score(group_truth, sub_ids)
    print(f"split ARI {ari:.3f}")
    assert ari >= 0.9
    assert split.theme(new[0]).count + split.theme(new[1]).count == len(group)
    assert split.theme(new[0]).label != split.theme(new[1]).label


def test_asking_for_more_themes_than_distinct_wordings_gives_fewer_themes():
    # given three identical texts and one other
    texts = ["Price too high?", "Price too high?", "Price too high?", "Support help?"]

    # when three themes are asked for
    few = themes_discover(texts, k=3, min_df=1)

    # then the two groups there are come back, without an empty theme
    assert [(t.id, t.count, t.examples) for t in few.themes] == [
        (1, 3, ("Price too high?",)),
        (2, 1, ("Support help?",)),
    ]
    assert few.next_id == 3
    assert themes_assign(few, texts).tolist() == [1, 1, 1, 2]


def test_same_seed_gives_the_same_model_and_json_round_trip_is_exact(demo):
    # given the demo questions
    texts, _ = demo

    # when the themes are discovered twice with one seed, and one model goes through JSON
    first = themes_discover(texts, k=10, seed=4)
    again = themes_discover(texts, k=10, seed=4)
    stored = ThemeModel.from_dict(json.loads(json.dumps(first.to_dict())))

    # then the models are the same, and the stored one assigns exactly like the original
    assert json.dumps(first.to_dict()) == json.dumps(again.to_dict())
    assert stored.to_dict() == first.to_dict()
    assert themes_assign(stored, texts).tolist() == themes_assign(first, texts).tolist()


def test_weekly_trends_count_per_iso_week_with_empty_weeks():
    # given five questions on Mon 5, Wed 7, Sun 11, Mon 12 and Mon 26 January 2026 (ISO weeks 2, 2, 2, 3, 5)
    asked = [
        dt.datetime(2026, 1, 5, 9),
        dt.date(2026, 1, 7),
        dt.datetime(2026, 1, 11, 23, 59),
        dt.date(2026, 1, 12),
        dt.date(2026, 1, 26),
    ]
    ids = [1, 2, 1, 1, 2]

    # when they are counted per week, from the first week and from a Tuesday in week 3
    trends = theme_trends(asked, ids)
    later = theme_trends(asked, ids, dt.date(2026, 1, 13))

    # then every week from the first Monday shows, empty weeks as zeros
    assert trends.weeks == (
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 12),
        dt.date(2026, 1, 19),
        dt.date(2026, 1, 26),
    )
    assert trends.theme_ids == (1, 2)
    assert trends.counts.tolist() == [[2, 1, 0, 0], [1, 0, 0, 1]]
    assert trends.to_dict() == {
        "weeks": ["2026-W02", "2026-W03", "2026-W04", "2026-W05"],
        "series": {"1": [2, 1, 0, 0], "2": [1, 0, 0, 1]},
    }
    assert later.weeks == (dt.date(2026, 1, 12), dt.date(2026, 1, 19), dt.date(2026, 1, 26))
    assert later.counts.tolist() == [[1, 0, 0], [0, 0, 1]]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.dates(dt.date(2024, 1, 1), dt.date(2025, 12, 31)), st.integers(-1, 4)),
        min_size=1,
        max_size=40,
    )
)
def test_weekly_trends_keep_every_item_once(items):
    # given questions on any days with any theme ids (-1 for "other")
    asked, ids = [d for d, _ in items], [t for _, t in items]

    # when counted per week
    trends = theme_trends(asked, ids)

    # then each theme's total is its number of items and each item is in its own Monday's week
    assert dict(zip(trends.theme_ids, trends.counts.sum(axis=1).tolist(), strict=True)) == Counter(ids)
    for day, theme in Counter(zip(asked, ids, strict=True)):
        week = trends.weeks.index(day - dt.timedelta(days=day.weekday()))
        assert trends.counts[trends.theme_ids.index(theme), week] >= 1


def test_loss_association_gives_shares_wilson_intervals_and_lift():
    # given six questions: theme 1 with 1 of 3 lost, theme 2 with 2 of 2, theme 3 with 0 of 1
    ids = [1, 1, 1, 2, 2, 3]
    lost = [True, False, False, True, True, False]

    # when the association with lost deals is computed
    rows = theme_loss_association(ids, lost)

    # then shares, Wilson intervals (as statsmodels computes them) and lift over the 3/6 overall
    assert [(r.theme_id, r.items, r.lost) for r in rows] == [(1, 3, 1), (2, 2, 2), (3, 1, 0)]
    assert [r.share for r in rows] == [1 / 3, 1.0, 0.0]
    assert [r.lift for r in rows] == pytest.approx([2 / 3, 2.0, 0.0], abs=1e-12)
    for row in rows:
        low, high = proportion_confint(row.lost, row.items, alpha=0.05, method="wilson")
        assert (row.low, row.high) == pytest.approx((low, high), abs=1e-9)


def test_loss_association_without_lost_deals_has_no_lift():
    # given questions none of which came with a lost deal
    rows = theme_loss_association([4, 4], [False, False])

    # then the share is 0, the interval is Wilson's and there is no lift
    assert [(r.theme_id, r.items, r.lost, r.share, r.lift) for r in rows] == [(4, 2, 0, 0.0, None)]
    assert rows[0].low == 0.0
    assert rows[0].high == pytest.approx(proportion_confint(0, 2, method="wilson")[1], abs=1e-9)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: themes_discover([]), "texts"),
        (lambda: themes_discover("price is too high"), "texts"),
        (lambda: themes_discover(["price", 3, "cost"]), "texts"),
        (lambda: themes_discover(["price too high", "cost too high", "price"], k=4), "k"),
        (lambda: themes_discover(["price too high", "cost too high"], k=0), "k"),
        (lambda: themes_discover(["the", "and", "of it"], k=2, min_df=1), "texts"),
        (lambda: themes_discover(["price", "cost"]), "texts"),
        (lambda: themes_discover(["price", "cost", "price"], k_range=(1, 5)), "k_range"),
        (lambda: themes_discover(["price", "cost"], k=1, min_similarity=2.0), "min_similarity"),
        (lambda: theme_trends([dt.date(2026, 1, 1)], [1, 2]), "theme_ids"),
        (lambda: theme_trends(["2026-01-01"], [1]), "asked_at"),
        (lambda: theme_loss_association([1, 2], [True]), "lost_flags"),
        (lambda: theme_loss_association([1], ["yes"]), "lost_flags"),
        (lambda: ThemeModel.from_dict({"format": 99}), "model"),
    ],
)
def test_bad_input_is_refused_naming_the_field(call, field):
    # given / when a call with a bad argument
    with pytest.raises(ValidationFailed) as err:
        call()

    # then the error names the field
    assert err.value.field == field


def test_bad_edits_are_refused_naming_the_field(model):
    # given the demo model
    first, second = model.ids[:2]

    # when edits name a missing theme, merge a theme with itself, or split into too many parts
    cases = [
        (lambda: theme_rename(model, 999, "x"), "theme_id"),
        (lambda: theme_rename(model, first, "   "), "label"),
        (lambda: themes_merge(model, first, first), "b"),
        (lambda: themes_merge(model, first, 999), "theme_id"),
        (lambda: theme_split(model, first, ["price"], k=2), "k"),
        (lambda: theme_split(model, first, [], k=2), "texts"),
    ]

    # then each is refused naming the field, and the model is unchanged
    for call, field in cases:
        with pytest.raises(ValidationFailed) as err:
            call()
        assert err.value.field == field
    assert dataclasses.replace(model).to_dict() == model.to_dict()
    assert model.theme(second).count > 0
