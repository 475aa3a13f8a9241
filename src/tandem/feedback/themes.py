"""Theme mining of the questions and objections reps hear (pure numpy/scikit-learn, no Django).

How texts become themes:
- Words: lower-cased words with English and a small list of sales-conversation stop words removed ("quick
  question", "thanks", "team" ...), then reduced to a crude stem ("integrate", "integration" and
  "integrations" all count as one word), so the same concern in different words still lands together.
- TF-IDF with sublinear term frequency, terms seen in at least `min_df` texts, then latent semantic analysis
  (truncated SVD to `n_components` dimensions, rows L2-normalised): words that keep company ("price",
  "discount", "seat") pull onto shared axes, so two texts can be close without sharing a word.
- k-means (several starts, fixed seed) in that space; a theme's centroid is the unit mean of its texts.
- The number of themes, when not given, is where the Calinski–Harabasz ratio (between-theme over
  within-theme spread, corrected for k) stops climbing: the smallest k in `k_range` whose ratio is within
  `k_tolerance` (2 %) of the best ratio among k … k + 4. On short texts the ratio rises to a plateau near
  the real number of themes and then wanders, sometimes with a late bump where near-identical wordings
  split off; taking the global maximum chased those bumps (19–20 themes on 3 of 12 demo companies), the
  plateau rule found 9–12 on all 12. Fewer, broader themes are also easier to read, and a theme can still
  be split by hand. Silhouette is not used: near-identical wordings form tight little groups, so on short
  texts it keeps rising with k. Above `SCAN_SAMPLE` texts the scan runs on a seeded sample; the final fit
  uses every text.
- Labels: the theme's three most distinctive terms (share of the theme's texts containing the term times
  the log of how much more often it appears there than elsewhere), shown as the word most often written
  for that stem ("price · discount · seat"); extended with further terms until every label is distinct.
  Examples are the theme's most central texts (highest cosine to the centroid), duplicates skipped.
- Assigning a new text: the theme with the nearest centroid (cosine), or `UNASSIGNED` (-1, "other") when
  the best cosine is below `min_similarity` (0.2 by default) or the text has no known word.
- Rename sets a marketer's label (kept through later merges). Merge keeps the first theme's id, adds the
  counts and takes the count-weighted mean of the centroids, so the merged theme attracts both groups'
  texts. Split re-clusters the texts the caller gives for one theme into k new themes with new ids.
- `to_dict`/`from_dict` give plain JSON (vocabulary, idf, SVD axes, centroids, per-theme word counts): no
  pickle, so a stored model cannot run code and survives library upgrades; round trip is exact.
- Computations run with one BLAS/OpenMP thread: on a small shared server, k-means with idle spinning
  workers took 4 s instead of 0.06 s on the demo questions.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from tandem.core.errors import ValidationFailed
from tandem.core.lazy import deferred
from tandem.stats.intervals import wilson_interval

if TYPE_CHECKING:
    import scipy.sparse as sp
    from sklearn import cluster, decomposition, exceptions, metrics
    from sklearn.feature_extraction import text as sk_text
else:
    # scikit-learn and scipy take over a second to import, and Django imports this module at every start
    # (feedback's AppConfig): they are imported when themes are first computed.
    sp = deferred("scipy.sparse")
    cluster = deferred("sklearn.cluster")
    decomposition = deferred("sklearn.decomposition")
    exceptions = deferred("sklearn.exceptions")
    sk_text = deferred("sklearn.feature_extraction.text")
    metrics = deferred("sklearn.metrics")

UNASSIGNED = -1
SCAN_SAMPLE = 4000
K_WINDOW = 4  # how many larger k the Calinski–Harabasz ratio must not beat by more than the tolerance
MAX_LABEL_LENGTH = 120
FORMAT_VERSION = 1

# Words that any sales conversation carries and that say nothing about what the question is about.
DOMAIN_STOP_WORDS = frozenset(
    (
        "question", "questions", "quick", "ask", "asked", "asking", "thanks", "thank", "please", "hi", "hello",
        "ok", "okay", "honestly", "sorry", "just", "checking", "check", "clear", "follow", "team", "need",
        "needs", "does", "did", "like", "know", "want", "wondering", "maybe", "actually", "really", "thing",
        "things", "yes", "let", "lets", "don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "wouldn",
        "couldn", "shouldn", "haven", "hasn", "ll", "ve", "re", "today", "week", "weeks",
    )
)  # fmt: skip


@cache
def _stop_words() -> frozenset[str]:
    """scikit-learn's English stop words and ours (a function: scikit-learn is imported on first use)."""
    return frozenset(sk_text.ENGLISH_STOP_WORDS) | DOMAIN_STOP_WORDS


_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)
# Longest first: the first suffix that leaves a stem of three letters or more is cut.
_SUFFIXES = (
    "izations", "ational", "ization", "ability", "ibility", "ations", "ation", "ities", "ments", "ances",
    "ences", "ings", "ment", "ance", "ence", "ates", "ated", "ions", "ity", "ing", "ate", "ion", "ers", "ies",
    "ied", "er", "ed", "es", "ly", "s", "e",
)  # fmt: skip


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude, deterministic suffix-stripping stem ("integrations" → "integr", "pricing" → "pric")."""
    if len(word) <= 3:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def _words(text: str) -> list[str]:
    # "team's" is "team", "doesn't" is "doesn" (a stop word): the part after an apostrophe says nothing.
    words = (w.split("'")[0] for w in _WORD.findall(text.lower().replace("’", "'")))
    return [w for w in words if w not in _stop_words() and len(w) > 1]


def analyze(text: str) -> list[str]:
    """The terms (stems) a text counts as: stop words dropped, the rest stemmed."""
    return [stem(w) for w in _words(text)]


@cache
def _thread_controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def _one_thread() -> Iterator[None]:
    # Fewer distinct texts than clusters is handled (empty themes are dropped), so sklearn's warning is noise.
    with _thread_controller().limit(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", exceptions.ConvergenceWarning)
        yield


# -----------------------------------------------------------------------------------------------------------
# The model
# -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Theme:
    """One theme: its id, label, most distinctive terms, central example texts and size."""

    id: int
    label: str
    terms: tuple[str, ...]
    examples: tuple[str, ...]
    count: int
    centroid: NDArray[np.float64]  # unit vector in the reduced space
    doc_freq: NDArray[np.int64]  # per vocabulary term: how many of the theme's texts contain it
    renamed: bool = False  # True once a marketer set the label

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "count": self.count,
            "terms": list(self.terms),
            "examples": list(self.examples),
        }


@dataclass(frozen=True, eq=False)
class ThemeModel:
    """Fitted vocabulary, idf, reduction axes and themes; immutable, every edit returns a new model."""

    vocabulary: tuple[str, ...]
    idf: NDArray[np.float64]
    components: NDArray[np.float64]  # (n_components, n_terms): the LSA axes
    surface: tuple[str, ...]  # per term, the word most often written for it
    themes: tuple[Theme, ...]
    min_similarity: float
    n_examples: int
    n_label_terms: int
    next_id: int
    seed: int
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._index:
            self._index.update({term: i for i, term in enumerate(self.vocabulary)})

    def theme(self, theme_id: int) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise ValidationFailed(f"there is no theme {theme_id}", field="theme_id", value=theme_id)

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.themes]

    def summaries(self) -> list[dict[str, Any]]:
        return [t.summary() for t in self.themes]

    def embed(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Unit rows in the reduced space (all-zero rows for texts with no known term)."""
        return _reduce(_tfidf(self._counts(texts), self.idf), self.components)

    def _counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for row, text in enumerate(texts):
            for term in analyze(text):
                col = self._index.get(term)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        data = np.ones(len(rows), dtype=np.float64)
        counts = sp.csr_matrix((data, (rows, cols)), shape=(len(texts), len(self.vocabulary)))
        counts.sum_duplicates()
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (lists, floats, strings); `from_dict` rebuilds the same model exactly."""
        return {
            "format": FORMAT_VERSION,
            "vocabulary": list(self.vocabulary),
            "idf": self.idf.tolist(),
            "components": self.components.tolist(),
            "surface": list(self.surface),
            "min_similarity": self.min_similarity,
            "n_examples": self.n_examples,
            "n_label_terms": self.n_label_terms,
            "next_id": self.next_id,
            "seed": self.seed,
            "themes": [
                {
                    **t.summary(),
                    "renamed": t.renamed,
                    "centroid": t.centroid.tolist(),
                    "doc_freq": {str(i): int(t.doc_freq[i]) for i in np.flatnonzero(t.doc_freq)},
                }
                for t in self.themes
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThemeModel:
        """The model `to_dict` described."""
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValidationFailed(
                f"not a theme model of format {FORMAT_VERSION}", field="model", value=type(data).__name__
            )
        try:
            n_terms = len(data["vocabulary"])
            themes = []
            for t in data["themes"]:
                doc_freq = np.zeros(n_terms, dtype=np.int64)
                for i, n in t["doc_freq"].items():
                    doc_freq[int(i)] = int(n)
                themes.append(
                    Theme(
                        id=int(t["id"]),
                        label=str(t["label"]),
                        terms=tuple(t["terms"]),
                        examples=tuple(t["examples"]),
                        count=int(t["count"]),
                        centroid=np.asarray(t["centroid"], dtype=np.float64),
                        doc_freq=doc_freq,
                        renamed=bool(t["renamed"]),
                    )
                )
            return cls(
                vocabulary=tuple(data["vocabulary"]),
                idf=np.asarray(data["idf"], dtype=np.float64),
                components=np.asarray(data["components"], dtype=np.float64).reshape(-1, n_terms),
                surface=tuple(data["surface"]),
                themes=tuple(themes),
                min_similarity=float(data["min_similarity"]),
                n_examples=int(data["n_examples"]),
                n_label_terms=int(data["n_label_terms"]),
                next_id=int(data["next_id"]),
                seed=int(data["seed"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"the stored theme model is incomplete: {exc}", field="model") from exc


def _tfidf(counts: sp.csr_matrix, idf: NDArray[np.float64]) -> sp.csr_matrix:
    weighted = counts.astype(np.float64, copy=True)
    weighted.data = 1.0 + np.log(weighted.data)  # sublinear tf
    weighted = sp.csr_matrix(weighted.multiply(idf[np.newaxis, :]))
    return _normalize_rows(weighted)


def _normalize_rows(matrix: Any) -> Any:
    if sp.issparse(matrix):
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sp.csr_matrix(sp.diags(scale) @ matrix)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _reduce(weighted: sp.csr_matrix, components: NDArray[np.float64]) -> NDArray[np.float64]:
    reduced: NDArray[np.float64] = _normalize_rows(np.asarray(weighted @ components.T))
    return reduced


# -----------------------------------------------------------------------------------------------------------
# Validation
# -----------------------------------------------------------------------------------------------------------


def _check_texts(texts: Any, name: str = "texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValidationFailed(f"{name} must be a list of strings", field=name, value=type(texts).__name__)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValidationFailed(
                f"{name}[{i}] must be a string, got {type(text).__name__}", field=name, value=repr(text)[:80]
            )
    if not texts:
        raise ValidationFailed(f"{name} must not be empty", field=name, value=0)
    return list(texts)


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationFailed(f"{name} must be an integer {bound}, got {value!r}", field=name, value=value)
    return value


# -----------------------------------------------------------------------------------------------------------
# Discovery
# -----------------------------------------------------------------------------------------------------------


def themes_discover(
    texts: Sequence[str],
    *,
    k: int | None = None,
    seed: int = 0,
    min_df: int = 2,
    n_components: int = 30,
    k_range: tuple[int, int] = (4, 20),
    n_init: int = 20,
    n_examples: int = 3,
    n_label_terms: int = 3,
    min_similarity: float = 0.2,
    k_tolerance: float = 0.02,
) -> ThemeModel:
    """Group texts into k themes (k chosen by Calinski–Harabasz over `k_range` when None).

    Fewer than k themes come back when the texts hold fewer than k distinct wordings.
    """
    texts = _check_texts(texts)
    n = len(texts)
    if k is not None:
        _check_int(k, "k", 1, n)
    _check_int(seed, "seed", 0)
    _check_int(min_df, "min_df", 1)
    _check_int(n_components, "n_components", 1)
    _check_int(n_init, "n_init", 1)
    _check_int(n_examples, "n_examples", 1)
    _check_int(n_label_terms, "n_label_terms", 1)
    if not (isinstance(min_similarity, int | float) and -1.0 <= min_similarity <= 1.0):
        raise ValidationFailed(
            "min_similarity must be between -1 and 1", field="min_similarity", value=min_similarity
        )
    if not (isinstance(k_tolerance, int | float) and 0.0 <= k_tolerance < 1.0):
        raise ValidationFailed("k_tolerance must be in [0, 1)", field="k_tolerance", value=k_tolerance)
    if (
        not isinstance(k_range, tuple)
        or len(k_range) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in k_range)
        or not 2 <= k_range[0] <= k_range[1]
    ):
        raise ValidationFailed(
            "k_range must be (low, high) with 2 <= low <= high", field="k_range", value=k_range
        )
    if k is None and n < 3:
        raise ValidationFailed(
            "choosing the number of themes needs at least 3 texts; pass k", field="texts", value=n
        )

    vectorizer = sk_text.CountVectorizer(analyzer=analyze, min_df=min_df, dtype=np.float64)
    try:
        counts = sp.csr_matrix(vectorizer.fit_transform(texts))
    except ValueError as exc:  # every term pruned, or no words at all
        raise ValidationFailed(
            f"the texts have no words in common to group by (min_df={min_df})", field="texts", value=n
        ) from exc
    vocabulary = tuple(vectorizer.get_feature_names_out().tolist())
    doc_freq_all = np.asarray((counts > 0).sum(axis=0)).ravel()
    idf = np.log((1.0 + n) / (1.0 + doc_freq_all)) + 1.0  # scikit-learn's smoothed idf
    weighted = _tfidf(counts, idf)
    dims = min(n_components, len(vocabulary) - 1, n - 1)

    with _one_thread():
        if dims >= 1:
            svd = decomposition.TruncatedSVD(
                n_components=dims, algorithm="randomized", n_iter=7, random_state=seed
            )
            svd.fit(weighted)
            components = np.asarray(svd.components_, dtype=np.float64)
        else:  # one or two terms: the tf-idf space itself is small enough
            components = np.eye(len(vocabulary), dtype=np.float64)
        reduced = _reduce(weighted, components)
        known = np.linalg.norm(reduced, axis=1) > 0
        if not known.any():
            raise ValidationFailed(
                f"no text has a word seen in at least {min_df} texts", field="texts", value=n
            )
        if k is None:
            k = _choose_k(reduced[known], k_range, seed, k_tolerance)
        if k > int(known.sum()):
            raise ValidationFailed(
                f"k={k} is more than the {int(known.sum())} texts with words to group by", field="k", value=k
            )
        km = cluster.KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(reduced[known])
    # Members are the texts nearest each unit centroid by cosine, the rule `themes_assign` applies later, so
    # assigning the training texts again gives the same themes.
    unit_centres = _normalize_rows(np.asarray(km.cluster_centers_, dtype=np.float64))
    labels = np.full(n, UNASSIGNED, dtype=np.int64)
    labels[known] = (reduced[known] @ unit_centres.T).argmax(axis=1)
    surface = _surface_forms(texts, vocabulary)
    present = sp.csr_matrix((counts > 0).astype(np.int64))

    # Ids follow size (largest theme is 1); ties by the first text that belongs to the theme. A centre no
    # text is nearest to (texts with fewer than k distinct wordings) is dropped rather than kept empty.
    sizes = np.bincount(labels[known], minlength=k)
    first = [int(np.flatnonzero(labels == c)[0]) if sizes[c] else n for c in range(k)]
    order = sorted((c for c in range(k) if sizes[c]), key=lambda c: (-sizes[c], first[c]))
    themes = []
    for new_id, c in enumerate(order, start=1):
        members = np.flatnonzero(labels == c)
        centroid = unit_centres[c]
        themes.append(
            Theme(
                id=new_id,
                label="",
                terms=(),
                examples=_central_examples(
                    [texts[i] for i in members], reduced[members], centroid, n_examples
                ),
                count=int(members.size),
                centroid=centroid,
                doc_freq=np.asarray(present[members].sum(axis=0)).ravel().astype(np.int64),
            )
        )
    model = ThemeModel(
        vocabulary=vocabulary,
        idf=idf,
        components=components,
        surface=surface,
        themes=tuple(themes),
        min_similarity=float(min_similarity),
        n_examples=n_examples,
        n_label_terms=n_label_terms,
        next_id=len(themes) + 1,
        seed=seed,
    )
    return _relabel(model)


def _choose_k(reduced: NDArray[np.float64], k_range: tuple[int, int], seed: int, tolerance: float) -> int:
    n = reduced.shape[0]
    if n > SCAN_SAMPLE:
        reduced = reduced[np.random.default_rng(seed).choice(n, SCAN_SAMPLE, replace=False)]
    distinct = np.unique(np.round(reduced, 9), axis=0).shape[0]
    high = min(k_range[1], distinct - 1)
    low = min(k_range[0], high)
    if high < 2:
        return 1
    scores = {}
    for k in range(low, high + 1):
        labels = cluster.KMeans(n_clusters=k, n_init=5, random_state=seed).fit_predict(reduced)
        scores[k] = (
            metrics.calinski_harabasz_score(reduced, labels) if len(set(labels.tolist())) > 1 else -math.inf
        )
    for k in sorted(scores):
        ahead = max(scores[j] for j in scores if k <= j <= k + K_WINDOW)
        if scores[k] >= ahead - tolerance * abs(ahead):
            return k
    return high  # unreachable: the last k always passes


def _unit(vector: NDArray[np.float64]) -> NDArray[np.float64]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _surface_forms(texts: Sequence[str], vocabulary: Sequence[str]) -> tuple[str, ...]:
    """Per term, the original word most often written for it (ties: the shorter, then alphabetical)."""
    wanted = set(vocabulary)
    seen: dict[str, Counter[str]] = {}
    for text in texts:
        for word in (w.split("'")[0] for w in _WORD.findall(text.replace("’", "'"))):
            lower = word.lower()
            if lower in _stop_words() or len(lower) <= 1:
                continue
            term = stem(lower)
            if term in wanted:
                seen.setdefault(term, Counter())[word] += 1
    forms = []
    for term in vocabulary:
        counter = seen.get(term)
        if not counter:
            forms.append(term)
            continue
        # Case variants of one word count together; show the most common spelling of the best word.
        by_word: Counter[str] = Counter()
        for word, n in counter.items():
            by_word[word.lower()] += n
        word = min(by_word, key=lambda w: (-by_word[w], len(w), w))
        spelling = min((s for s in counter if s.lower() == word), key=lambda s: (-counter[s], s))
        # "Price" at the start of a sentence is still the word "price"; "Salesforce" and "ROI" keep their case.
        forms.append(
            word if spelling[:1].isupper() and spelling[1:].islower() and word in counter else spelling
        )
    return tuple(forms)


def _central_examples(
    texts: Sequence[str], reduced: NDArray[np.float64], centroid: NDArray[np.float64], limit: int
) -> tuple[str, ...]:
    if not texts:
        return ()
    similarity = reduced @ centroid
    out: list[str] = []
    seen: set[str] = set()
    for i in np.argsort(-similarity, kind="stable"):
        key = " ".join(texts[i].lower().split())
        if key not in seen:
            seen.add(key)
            out.append(texts[i])
            if len(out) == limit:
                break
    return tuple(out)


def _distinctive_terms(model: ThemeModel, theme: Theme, total_df: NDArray[np.int64], total: int) -> list[int]:
    inside = theme.doc_freq.astype(np.float64)
    n_in = max(theme.count, 1)
    n_out = max(total - theme.count, 1)
    share_in = inside / n_in
    share_out = (total_df - inside) / n_out
    score = share_in * np.log((share_in + 1e-3) / (share_out + 1e-3))
    ranked = np.lexsort((np.arange(score.size), -score))
    return [int(i) for i in ranked if score[i] > 0]


def _relabel(model: ThemeModel) -> ThemeModel:
    """Recompute terms for every theme and labels for those a marketer did not name; labels distinct."""
    total_df: NDArray[np.int64] = np.zeros(len(model.vocabulary), dtype=np.int64)
    for theme in model.themes:
        total_df = total_df + theme.doc_freq
    total = sum(t.count for t in model.themes)
    taken = {t.label.casefold() for t in model.themes if t.renamed}
    themes = []
    for theme in model.themes:
        ranked = _distinctive_terms(model, theme, total_df, total)
        words: list[str] = []
        for i in ranked:
            word = model.surface[i]
            if word.casefold() not in {w.casefold() for w in words}:
                words.append(word)
            if len(words) >= model.n_label_terms + 8:
                break
        terms = tuple(words[: max(model.n_label_terms, 5)])
        if theme.renamed:
            themes.append(replace(theme, terms=terms))
            continue
        size = model.n_label_terms
        label = " · ".join(words[:size]) or f"Theme {theme.id}"
        while label.casefold() in taken and size < len(words):
            size += 1
            label = " · ".join(words[:size])
        if label.casefold() in taken:
            label = f"{label} ({theme.id})"
        taken.add(label.casefold())
        themes.append(replace(theme, terms=terms, label=label))
    return replace(model, themes=tuple(themes), _index=model._index)


# -----------------------------------------------------------------------------------------------------------
# Assignment and edits
# -----------------------------------------------------------------------------------------------------------


def themes_assign(model: ThemeModel, texts: Sequence[str]) -> NDArray[np.int64]:
    """Theme id per text: the nearest centroid, or UNASSIGNED when below the model's min_similarity."""
    texts = _check_texts(texts)
    ids = np.asarray(model.ids, dtype=np.int64)
    if ids.size == 0:
        return np.full(len(texts), UNASSIGNED, dtype=np.int64)
    reduced = model.embed(texts)
    similarity = reduced @ np.vstack([t.centroid for t in model.themes]).T
    best = similarity.argmax(axis=1)
    best_similarity = similarity[np.arange(similarity.shape[0]), best]
    known = np.linalg.norm(reduced, axis=1) > 0
    ok = known & (best_similarity >= model.min_similarity)
    return np.where(ok, ids[best], UNASSIGNED).astype(np.int64)


def theme_rename(model: ThemeModel, theme_id: int, label: str) -> ThemeModel:
    """The model with this theme's label set by a person (kept when the theme is later merged into)."""
    model.theme(theme_id)
    if not isinstance(label, str) or not label.strip():
        raise ValidationFailed("label must be a non-empty string", field="label", value=label)
    label = " ".join(label.split())
    if len(label) > MAX_LABEL_LENGTH:
        raise ValidationFailed(
            f"label must be at most {MAX_LABEL_LENGTH} characters", field="label", value=label[:40]
        )
    for other in model.themes:
        if other.id != theme_id and other.label.casefold() == label.casefold():
            raise ValidationFailed(
                f"theme {other.id} is already called {label!r}", field="label", value=label
            )
    themes = tuple(replace(t, label=label, renamed=True) if t.id == theme_id else t for t in model.themes)
    return replace(model, themes=themes, _index=model._index)


def themes_merge(model: ThemeModel, a: int, b: int) -> ThemeModel:
    """The model with theme b folded into theme a: counts added, centroid the count-weighted mean."""
    first, second = model.theme(a), model.theme(b)
    if a == b:
        raise ValidationFailed("a theme cannot be merged with itself", field="b", value=b)
    total = first.count + second.count
    weights = (first.count, second.count) if total else (1, 1)
    centroid = _unit(weights[0] * first.centroid + weights[1] * second.centroid)
    pool = list(dict.fromkeys(first.examples + second.examples))
    examples = _central_examples(pool, model.embed(pool), centroid, model.n_examples) if pool else ()
    merged = replace(
        first,
        count=total,
        centroid=centroid,
        doc_freq=first.doc_freq + second.doc_freq,
        examples=examples,
        label=first.label if first.renamed else "",
    )
    themes = tuple(merged if t.id == a else t for t in model.themes if t.id != b)
    return _relabel(replace(model, themes=themes, _index=model._index))


def theme_split(model: ThemeModel, theme_id: int, texts: Sequence[str], *, k: int = 2) -> ThemeModel:
    """The model with one theme replaced by k new themes found among the given texts of that theme."""
    old = model.theme(theme_id)
    texts = _check_texts(texts)
    _check_int(k, "k", 2, len(texts))
    reduced = model.embed(texts)
    known = np.linalg.norm(reduced, axis=1) > 0
    if int(known.sum()) < k:
        raise ValidationFailed(
            f"only {int(known.sum())} of the texts have words the model knows; cannot split into {k}",
            field="texts",
            value=int(known.sum()),
        )
    with _one_thread():
        km = cluster.KMeans(n_clusters=k, n_init=10, random_state=model.seed).fit(reduced[known])
    labels = np.full(len(texts), UNASSIGNED, dtype=np.int64)
    labels[known] = km.labels_
    present = sp.csr_matrix((model._counts(texts) > 0).astype(np.int64))
    sizes = np.bincount(km.labels_, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], int(np.flatnonzero(labels == c)[0])))
    parts = []
    for offset, c in enumerate(order):
        members = np.flatnonzero(labels == c)
        centroid = _unit(reduced[members].mean(axis=0))
        parts.append(
            Theme(
                id=model.next_id + offset,
                label="",
                terms=(),
                examples=_central_examples(
                    [texts[i] for i in members], reduced[members], centroid, model.n_examples
                ),
                count=int(members.size),
                centroid=centroid,
                doc_freq=np.asarray(present[members].sum(axis=0)).ravel().astype(np.int64),
            )
        )
    themes: list[Theme] = []
    for t in model.themes:
        themes.extend(parts if t.id == old.id else [t])
    return _relabel(replace(model, themes=tuple(themes), next_id=model.next_id + k, _index=model._index))


def theme_from_texts(
    model: ThemeModel, theme_id: int, texts: Sequence[str], *, label: str = "", renamed: bool = False
) -> Theme:
    """A theme of the model's space made of these texts: unit mean centroid, word counts, central examples.

    Used to carry a theme a person curated into a newly fitted space (its texts decide where it sits).
    """
    texts = _check_texts(texts)
    reduced = model.embed(texts)
    known = np.linalg.norm(reduced, axis=1) > 0
    centroid = _unit(reduced[known].mean(axis=0)) if known.any() else np.zeros(model.components.shape[0])
    present = sp.csr_matrix((model._counts(texts) > 0).astype(np.int64))
    return Theme(
        id=theme_id,
        label=label,
        terms=(),
        examples=_central_examples(
            [t for t, k in zip(texts, known, strict=True) if k], reduced[known], centroid, model.n_examples
        ),
        count=len(texts),
        centroid=centroid,
        doc_freq=np.asarray(present.sum(axis=0)).ravel().astype(np.int64),
        renamed=renamed,
    )


def themes_relabel(model: ThemeModel) -> ThemeModel:
    """The model with terms recomputed for every theme and labels for the themes no person named."""
    return _relabel(model)


# -----------------------------------------------------------------------------------------------------------
# Trends and lost deals
# -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeTrends:
    """Items per theme per ISO week (weeks start on Monday), zero weeks included."""

    weeks: tuple[dt.date, ...]  # the Monday of each week
    theme_ids: tuple[int, ...]
    counts: NDArray[np.int64]  # (len(theme_ids), len(weeks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "weeks": [f"{w.isocalendar().year}-W{w.isocalendar().week:02d}" for w in self.weeks],
            "series": {str(t): self.counts[i].tolist() for i, t in enumerate(self.theme_ids)},
        }


def _day(value: Any, i: int) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ValidationFailed(
        f"asked_at[{i}] must be a date or datetime, got {type(value).__name__}",
        field="asked_at",
        value=repr(value),
    )


def theme_trends(
    asked_at: Sequence[dt.date | dt.datetime], theme_ids: Sequence[int], week_start: dt.date | None = None
) -> ThemeTrends:
    """Counts per theme and ISO week, from the week of `week_start` (default: the earliest item's week)."""
    if len(asked_at) != len(theme_ids):
        raise ValidationFailed(
            f"asked_at has {len(asked_at)} items but theme_ids has {len(theme_ids)}",
            field="theme_ids",
            value=len(theme_ids),
        )
    days = [_day(v, i) for i, v in enumerate(asked_at)]
    ids = [int(t) for t in theme_ids]
    if week_start is not None and not isinstance(week_start, dt.date):
        raise ValidationFailed("week_start must be a date", field="week_start", value=repr(week_start))
    if not days:
        return ThemeTrends((), (), np.zeros((0, 0), dtype=np.int64))
    start_day = week_start.date() if isinstance(week_start, dt.datetime) else (week_start or min(days))
    first_monday = start_day - dt.timedelta(days=start_day.weekday())
    last = max(days)
    last_monday = last - dt.timedelta(days=last.weekday())
    n_weeks = max((last_monday - first_monday).days // 7 + 1, 1)
    theme_list = sorted(set(ids))
    row = {t: i for i, t in enumerate(theme_list)}
    counts = np.zeros((len(theme_list), n_weeks), dtype=np.int64)
    for day, theme in zip(days, ids, strict=True):
        week = (day - first_monday).days // 7
        if week >= 0:
            counts[row[theme], week] += 1
    weeks = tuple(first_monday + dt.timedelta(weeks=w) for w in range(n_weeks))
    return ThemeTrends(weeks, tuple(theme_list), counts)


@dataclass(frozen=True)
class ThemeLoss:
    """How often a theme's items came with a lost deal, with a Wilson interval."""

    theme_id: int
    items: int
    lost: int
    share: float
    low: float
    high: float
    lift: float | None  # share ÷ the share over all items (None when no item came with a lost deal)


def theme_loss_association(
    theme_ids: Sequence[int], lost_flags: Sequence[bool], *, confidence: float = 0.95
) -> list[ThemeLoss]:
    """Per theme (by id): share of its items that came with a lost deal, Wilson interval, lift."""
    if len(theme_ids) != len(lost_flags):
        raise ValidationFailed(
            f"theme_ids has {len(theme_ids)} items but lost_flags has {len(lost_flags)}",
            field="lost_flags",
            value=len(lost_flags),
        )
    for i, flag in enumerate(lost_flags):
        if not isinstance(flag, bool | np.bool_):
            raise ValidationFailed(
                f"lost_flags[{i}] must be true or false", field="lost_flags", value=repr(flag)
            )
    items: Counter[int] = Counter()
    lost: Counter[int] = Counter()
    for theme, flag in zip(theme_ids, lost_flags, strict=True):
        items[int(theme)] += 1
        lost[int(theme)] += int(bool(flag))
    total, total_lost = sum(items.values()), sum(lost.values())
    overall = total_lost / total if total else 0.0
    out = []
    for theme in sorted(items):
        share = lost[theme] / items[theme]
        low, high = wilson_interval(lost[theme], items[theme], confidence=confidence)
        out.append(
            ThemeLoss(
                theme, items[theme], lost[theme], share, low, high, share / overall if overall else None
            )
        )
    return out
