"""The hashed n-gram featurizer: deterministic, case/width folding, empty and long texts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cityops.triage.features import FeatureConfig, Featurizer, hashed_counts, normalize_text, tfidf

CFG = FeatureConfig(bits=12, ngram_max=3)


def test_counts_are_deterministic_and_per_document() -> None:
    a = hashed_counts(["小区噪音", "小区噪音", "道路积水"], CFG, salt=0)
    assert a.shape == (3, 1 << 12)
    assert (a[0] != a[1]).nnz == 0
    assert (a[0] != a[2]).nnz > 0
    # Each text owns its 2 leading NUL pads + 4 characters = 6 start positions, for n = 1, 2, 3.
    assert a[0].sum() == 18


def test_empty_text_gives_empty_row() -> None:
    counts = hashed_counts(["", "路灯不亮", ""], CFG, salt=0)
    assert counts[0].nnz == 0 and counts[2].nnz == 0 and counts[1].nnz > 0


def test_full_width_and_case_fold_to_the_same_features() -> None:
    a = hashed_counts(["ＡＢＣ１２３"], CFG, salt=0)
    b = hashed_counts(["abc123"], CFG, salt=0)
    assert (a != b).nnz == 0


def test_digits_fold_to_zero_from_algorithm_2() -> None:
    a = hashed_counts(["电话13812345678，2019年"], CFG, salt=0)
    b = hashed_counts(["电话10000000000，2000年"], CFG, salt=0)
    c = hashed_counts(["电话１３８１２３４５６７８，2019年"], CFG, salt=0)  # full-width digits too
    assert (a != b).nnz == 0 and (a != c).nnz == 0
    v1 = FeatureConfig(bits=12, ngram_max=3, algorithm=1)
    assert (hashed_counts(["2019年"], v1, salt=0) != hashed_counts(["2000年"], v1, salt=0)).nnz > 0


def test_whitespace_collapsed_and_long_text_truncated() -> None:
    assert normalize_text("  投诉\n\t\t物业\u3000收费 ", 100) == "投诉 物业 收费"
    assert len(normalize_text("字" * 100_000, 3000)) == 3000
    assert normalize_text(None, 10) == ""


def test_tfidf_rows_unit_norm_and_empty_rows_zero() -> None:
    counts = hashed_counts(["垃圾清运不及时 垃圾", ""], CFG, salt=0)
    x = tfidf(counts, np.ones(1 << 12, dtype=np.float32))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    assert np.isclose(norms[0], 1.0) and norms[1] == 0


def test_all_fields_block_is_sum_of_field_blocks() -> None:
    feat = Featurizer(CFG, n_fields=2)
    s, d, both = feat.counts([["路灯不亮", "晚上很黑"], ["", "晚上很黑"]])
    assert (both - (s + d)).nnz == 0
    assert s[1].nnz == 0


def _reference_counts(texts: list[str], cfg: FeatureConfig) -> list[Counter[int]]:
    """Bucket counts of each text counted alone: a batch must not mix texts across key chunks."""
    single = [hashed_counts([t], cfg, salt=0) for t in texts]
    return [Counter(dict(zip(m.indices.tolist(), m.data.tolist(), strict=True))) for m in single]


@pytest.mark.parametrize("bits", [24, 12, 26])  # 24: 256-document key chunks; 26: 64-bit keys
def test_batch_counts_equal_one_text_at_a_time(bits: int) -> None:
    cfg = FeatureConfig(bits=bits, ngram_max=2)
    rng = np.random.default_rng(7)
    pool = list("小区噪音扰民垃圾清运不及时道路积水路灯不亮 0123abc")
    texts = ["".join(rng.choice(pool, size=int(n))) if n else "" for n in rng.integers(0, 40, 700)]
    texts[5] = ""
    batch = hashed_counts(texts, cfg, salt=0)
    assert batch.has_sorted_indices
    assert all(np.all(np.diff(batch[i].indices) > 0) for i in range(batch.shape[0]) if batch[i].nnz > 1)
    expected = _reference_counts(texts, cfg)
    for i, want in enumerate(expected):
        row = batch[i]
        assert dict(zip(row.indices.tolist(), row.data.tolist(), strict=True)) == dict(want)
    assert batch[5].nnz == 0
    # Every n-gram start of a text (its characters and its leading pad), once per n = 1, 2.
    lengths = np.array([len(t) + 1 if t else 0 for t in texts])
    assert np.array_equal(np.asarray(batch.sum(axis=1)).ravel(), 2 * lengths)
