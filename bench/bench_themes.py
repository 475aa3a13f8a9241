"""Theme mining speed and quality: the demo company's questions and 50,000 generated questions.

Run: .venv/bin/python bench/bench_themes.py — prints the figures; exits non-zero when a target is missed
(discovery on 50,000 texts within 60 s, assigning 50,000 texts within 10 s, ARI at least 0.7 on both sets).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from sklearn.metrics import adjusted_rand_score

from tandem.demo.company import THEME_WEIGHTS, generate_company, question_text
from tandem.feedback.themes import themes_assign, themes_discover

TARGET_DISCOVER_50K_S = 60.0
TARGET_ASSIGN_50K_S = 10.0
TARGET_ARI = 0.7


def _timed(label: str, texts: list[str], truth: list[str], k: int | None) -> tuple[float, float, int]:
    start = time.perf_counter()
    model = themes_discover(texts, k=k, seed=0)
    seconds = time.perf_counter() - start
    ari = adjusted_rand_score(truth, themes_assign(model, texts))
    print(
        f"{label:<34} k={'auto' if k is None else k:<4} {seconds:7.2f} s  themes {len(model.themes):>2}  ARI {ari:.3f}"
    )
    return seconds, ari, len(model.themes)


def main() -> int:
    failures = []
    company = generate_company(people=11000, seed=7, end=dt.date(2026, 6, 1))
    texts = [q.text for q in company.questions]
    truth = [q.theme for q in company.questions]
    for k in (None, 10):
        _, ari, _ = _timed(f"demo questions ({len(texts):,})", texts, truth, k)
        if ari < TARGET_ARI:
            failures.append(f"demo ARI {ari:.3f} < {TARGET_ARI}")

    rnd = random.Random(2026)
    names, weights = list(THEME_WEIGHTS), list(THEME_WEIGHTS.values())
    big_truth = rnd.choices(names, weights, k=50_000)
    big = [question_text(rnd, theme) for theme in big_truth]
    for k in (None, 10):
        seconds, ari, _ = _timed("generated questions (50,000)", big, big_truth, k)
        if seconds > TARGET_DISCOVER_50K_S:
            failures.append(f"discovery on 50,000 took {seconds:.1f} s > {TARGET_DISCOVER_50K_S} s")
        if ari < TARGET_ARI:
            failures.append(f"50,000 ARI {ari:.3f} < {TARGET_ARI}")
    model = themes_discover(big, k=10, seed=0)
    start = time.perf_counter()
    themes_assign(model, big)
    seconds = time.perf_counter() - start
    print(f"assign 50,000 texts to 10 themes       {seconds:7.2f} s")
    if seconds > TARGET_ASSIGN_50K_S:
        failures.append(f"assigning 50,000 took {seconds:.1f} s > {TARGET_ASSIGN_50K_S} s")
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
