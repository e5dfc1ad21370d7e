"""Hot issues: cluster recent reports by topic, place and time, and rank the clusters by heat.

How it scales to 100,000 messages on one core:

1. Each message (subject twice + the start of the detail) becomes a TF-IDF vector of character
   bigrams.
2. Candidate pairs come from a *pruned* copy: each row keeps only its few heaviest bigrams and
   bigrams shared by too many messages are dropped, so the sparse product ``P · Pᵀ`` touches only
   short posting lists (the sparse equivalent of an inverted-index nearest-neighbour search).
3. Every candidate pair is checked with the full cosine, within a time gap, and against the
   places the two messages name: two messages naming different places need a much higher
   similarity to be linked.
4. Connected components of the linked pairs are the hot issues; heat combines reports,
   distinct reporters, likes and growth.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

# Generic named places: a name ending in a place word (works on anonymised data too).
_PLACE = re.compile(
    r"[\u4e00-\u9fa5A-Za-z0-9]{1,8}?(?:小区|花园|花苑|家园|新城|新村|公寓|广场|大厦|社区|村|路|街|大道|镇|乡|"
    r"学校|中学|小学|幼儿园|学院|大学|医院|公司|市场|车站|高铁站|公园)"
)
_GENERIC_PLACES = {"小区", "马路", "道路", "公路", "街道", "农村", "学校", "公司", "医院", "市场"}


@dataclass(frozen=True)
class HotMessage:
    id: str
    text: str
    created_at: datetime
    reporter: str | None = None
    likes: int = 0
    subject: str = ""
    place: str | None = None  # a resolved place (street/community) when the caller knows one


@dataclass
class HotIssue:
    id: str
    heat: float
    representative: str
    place: str | None
    start: datetime
    end: datetime
    reports: int
    reporters: int
    likes: int
    growth: float
    message_ids: list[str] = field(default_factory=list)


_LEAD = re.compile(r"^[及在而于和与的是对向从把被让道口期间为了关于反映投诉咨询建议请]+")


def _places(text: str) -> frozenset[str]:
    found = {_LEAD.sub("", m.group(0)) for m in _PLACE.finditer(text)}
    return frozenset(p for p in found if p not in _GENERIC_PLACES and len(p) >= 3)


def _doc(m: HotMessage, detail_chars: int) -> str:
    subject = m.subject or m.text[:40]
    return f"{subject} {subject} {m.text[:detail_chars]}"


def candidate_pairs(
    x: sparse.csr_matrix, keep_per_row: int = 10, max_df: int = 400, floor: float = 0.15, block: int = 5000
) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) pairs with i < j whose pruned vectors overlap enough to be worth a full check."""
    i, j, _ = scored_candidate_pairs(x, keep_per_row, max_df, floor, block)
    return i, j


def scored_candidate_pairs(
    x: sparse.csr_matrix, keep_per_row: int = 10, max_df: int = 400, floor: float = 0.15, block: int = 5000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`candidate_pairs`, with each pair's cosine of the pruned vectors."""
    n = x.shape[0]
    df = np.bincount(x.indices, minlength=x.shape[1])
    # A bigram in hundreds of messages says nothing about one matter, and its posting list would
    # make the product quadratic.
    too_common = df > max(30, min(max_df, n // 20))
    x = x.tocsr(copy=True)
    x.data[too_common[x.indices]] = 0
    x.eliminate_zeros()
    rows, cols, vals = [], [], []
    indptr, indices, data = x.indptr, x.indices, x.data
    for i in range(n):
        a, b = indptr[i], indptr[i + 1]
        top = (
            np.argpartition(-data[a:b], keep_per_row)[:keep_per_row] + a
            if b - a > keep_per_row
            else np.arange(a, b)
        )
        rows.append(np.full(len(top), i))
        cols.append(indices[top])
        vals.append(data[top])
    p = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=x.shape, dtype=np.float32
    )
    norms = np.sqrt(np.asarray(p.multiply(p).sum(axis=1)).ravel())
    p = sparse.diags(1 / np.maximum(norms, 1e-9)).astype(np.float32) @ p
    pt = p.T.tocsr()
    out_i, out_j, out_s = [], [], []
    # Row blocks keep memory flat: each block's products are filtered before the next is made.
    for lo in range(0, n, block):
        s = (p[lo : lo + block] @ pt).tocoo()
        keep = (s.data >= floor) & (s.col > s.row + lo)
        out_i.append(s.row[keep] + lo)
        out_j.append(s.col[keep])
        out_s.append(s.data[keep])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)


def _pair_cosines(x: sparse.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Full cosine of rows i[k] and j[k] (rows are L2-normalised), chunked to bound memory."""
    out = np.empty(len(i), dtype=np.float32)
    step = 200_000
    for lo in range(0, len(i), step):
        a, b = i[lo : lo + step], j[lo : lo + step]
        out[lo : lo + step] = np.asarray(x[a].multiply(x[b]).sum(axis=1)).ravel()
    return out


def cluster(
    messages: Sequence[HotMessage],
    *,
    link: float = 0.25,
    link_other_place: float = 0.45,
    max_gap_days: float = 45.0,
    detail_chars: int = 120,
) -> list[list[int]]:
    """Groups of message indices (two or more each) about the same matter."""
    n = len(messages)
    if n < 2:
        return []
    docs = [_doc(m, detail_chars) for m in messages]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 2), min_df=2, sublinear_tf=True, dtype=np.float32)
    try:
        x = vec.fit_transform(docs).tocsr()
    except ValueError:  # nothing in common at all
        return []
    i, j, pruned = scored_candidate_pairs(x)
    if len(i) == 0:
        return []
    t = np.array([m.created_at.timestamp() for m in messages])
    # One main place per message (the caller's, else the first named in the subject or text).
    ids: dict[str, int] = {}
    pid = np.full(n, -1)
    for k, m in enumerate(messages):
        place = m.place or _first_place(m.subject) or _first_place(m.text[:detail_chars])
        if place:
            pid[k] = ids.setdefault(place, len(ids))
    near = np.abs(t[i] - t[j]) <= max_gap_days * 86400
    i, j, pruned = i[near], j[near], pruned[near]
    need = np.where((pid[i] >= 0) & (pid[j] >= 0) & (pid[i] != pid[j]), link_other_place, link)
    # Only connectivity matters, so a pair whose two messages are already linked through others
    # needs no full check. Pairs go most-similar first, in rounds; after each round the components
    # are recomputed and pairs inside one component are skipped. With many near-copies per matter
    # (the 100,000-message case) most pairs are skipped, and the components are exactly those of
    # checking every pair.
    order = np.argsort(-pruned, kind="stable")
    i, j, need = i[order], j[order], need[order]
    labels = np.arange(n)
    edges_i: list[np.ndarray] = []
    edges_j: list[np.ndarray] = []
    lo, step = 0, max(50_000, n)
    while lo < len(i):
        a, b, thr = i[lo : lo + step], j[lo : lo + step], need[lo : lo + step]
        lo += step
        open_ = labels[a] != labels[b]
        a, b, thr = a[open_], b[open_], thr[open_]
        if len(a) == 0:
            continue
        ok = _pair_cosines(x, a, b) >= thr
        if ok.any():
            edges_i.append(a[ok])
            edges_j.append(b[ok])
            ei, ej = np.concatenate(edges_i), np.concatenate(edges_j)
            graph = sparse.coo_matrix((np.ones(len(ei)), (ei, ej)), shape=(n, n))
            _, labels = connected_components(graph, directed=False)
        step *= 2
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [g.tolist() for g in np.split(order, bounds) if len(g) >= 2]


def _first_place(text: str) -> str | None:
    for m in _PLACE.finditer(text):
        p = _LEAD.sub("", m.group(0))
        if p not in _GENERIC_PLACES and len(p) >= 3:
            return p
    return None


def heat_score(reports: int, reporters: int, likes: int, growth: float) -> float:
    """ln(1+reports) + ln(1+distinct reporters) + ½·ln(1+likes) + ½·growth (growth in [-1, 2])."""
    return math.log1p(reports) + math.log1p(reporters) + 0.5 * math.log1p(max(likes, 0)) + 0.5 * growth


def rank(
    messages: Sequence[HotMessage],
    groups: list[list[int]],
    now: datetime | None = None,
    limit: int | None = None,
) -> list[HotIssue]:
    """Hot issues from groups, hottest first; details are built only for the ``limit`` hottest."""
    scored: list[tuple[float, int, float, int, int]] = []
    for gi, g in enumerate(groups):
        members = [messages[k] for k in g]
        start = min(m.created_at for m in members)
        ref = now or max(m.created_at for m in members)
        span = max((ref - start).total_seconds(), 1.0)
        mid = ref - timedelta(seconds=span / 3)
        recent = sum(1 for m in members if m.created_at >= mid)
        earlier = len(members) - recent
        # Reports in the last third of the span against the two thirds before, per unit of time.
        growth = max(-1.0, min(2.0, (recent * 2 - earlier) / max(earlier, 1)))
        reporters = len({m.reporter or m.id for m in members})
        likes = sum(m.likes for m in members)
        scored.append((heat_score(len(members), reporters, likes, growth), gi, growth, reporters, likes))
    scored.sort(key=lambda r: -r[0])
    out: list[HotIssue] = []
    for heat, gi, growth, reporters, likes in scored[:limit] if limit else scored:
        members = [messages[k] for k in groups[gi]]
        place_counts: dict[str, int] = {}
        for m in members:
            p = m.place or _first_place(m.subject or m.text[:60])
            if p:
                place_counts[p] = place_counts.get(p, 0) + 1
        ids = sorted(m.id for m in members)
        out.append(
            HotIssue(
                id=hashlib.sha1("|".join(ids).encode()).hexdigest()[:12],
                heat=round(heat, 3),
                representative=_representative(members),
                place=max(place_counts, key=lambda p: (place_counts[p], len(p))) if place_counts else None,
                start=min(m.created_at for m in members),
                end=max(m.created_at for m in members),
                reports=len(members),
                reporters=reporters,
                likes=likes,
                growth=round(growth, 2),
                message_ids=ids,
            )
        )
    return out


def _representative(members: Sequence[HotMessage]) -> str:
    """The subject closest to the group's centroid (bigram TF), else the most liked text."""
    subjects = [m.subject or m.text[:60] for m in members]
    if len(members) > 200:
        subjects = subjects[:200]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 2))
    try:
        x = vec.fit_transform(subjects)
    except ValueError:
        return max(members, key=lambda m: m.likes).subject
    centroid = np.asarray(x.mean(axis=0)).ravel()
    return subjects[int(np.argmax(x @ centroid))]


def find_hot_issues(
    messages: Sequence[HotMessage], *, limit: int = 10, now: datetime | None = None, **kwargs: Any
) -> list[HotIssue]:
    """Cluster and rank; the ``limit`` hottest issues."""
    return rank(messages, cluster(messages, **kwargs), now, limit)
