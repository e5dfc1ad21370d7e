"""The shipped knowledge base: every directory code, the words people use, clean validation, and
the evaluation set kept out of everything the router learns from."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from cityops.catalog.limits import directory, directory_codes
from cityops.errors import Invalid
from cityops.triage import knowledge
from cityops.triage.kb_synth import NONE_TEXTS, examples
from cityops.triage.routing import seed_rows

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "routing_eval.csv"


def _eval_rows() -> list[dict[str, str]]:
    with EVAL.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_code_of_the_directory_has_a_row_with_terms_and_a_criterion() -> None:
    rows = {r.code: r for r in knowledge.shipped()}
    assert set(rows) == set(directory_codes()) and len(rows) == 403
    for entry in directory():
        row = rows[entry.code]
        assert row.name == entry.name and row.kind == entry.kind and row.major_code == entry.major_code
        assert row.filing_criterion, row.code
        assert len(row.terms) >= 1, row.code
        if row.kind == "component":
            assert row.routes_to == entry.std_code  # a problem with a component is filed as its matter
        else:
            # every matter can be described: by its own terms, or object × fault phrases
            assert len(row.terms) >= 2 or row.problems, row.code


def test_the_common_matters_carry_the_words_people_actually_use() -> None:
    rows = {r.code: r for r in knowledge.shipped()}
    assert {"牛皮癣", "开锁办证的纸条"} <= set(rows["07001"].terms)
    assert "乱停" in rows["09009"].terms
    assert "飘着垃圾" in rows["06025"].terms
    assert "僵尸车" in rows["06034"].terms
    # the ~80 matters behind most reports (street order, environment, ads, works) are all hand-written
    common = [
        r for r in rows.values() if r.kind == "event" and r.major_code in {"06", "07", "08", "09", "10"}
    ]
    assert len(common) >= 80 and all(len(r.terms) >= 3 for r in common if r.code not in {"09014"})


def test_families_back_off_to_a_general_code() -> None:
    rows = {r.code: r for r in knowledge.shipped()}
    covers = [r for r in rows.values() if r.kind == "event" and r.family == "井盖"]
    assert len(covers) >= 20
    assert [r.code for r in covers if r.family_fallback] == ["01023"]  # 不明井盖异常


def test_a_row_with_an_empty_name_or_an_unknown_code_is_refused_naming_the_row() -> None:
    with pytest.raises(Invalid) as e:
        knowledge.parse_csv("code,name,terms\n06010,暴露垃圾,垃圾\n06011,,渣土\n")
    assert e.value.details["row"] == "3" and e.value.details["field"] == "name"
    rows = knowledge.parse_csv("code,name\n06010,暴露垃圾\n99999,不存在\n")
    with pytest.raises(Invalid) as e2:
        knowledge.check_codes(rows, directory_codes())
    assert e2.value.details == {"row": 2, "code": "99999", "field": "code"}


def test_round_trip_through_csv() -> None:
    rows = list(knowledge.shipped())
    assert knowledge.parse_csv(knowledge.to_csv(rows)) == rows


def _norm(text: str) -> str:
    return re.sub(r"[\s，。,.：:！!？?、]", "", text)


def test_no_evaluation_report_is_in_the_knowledge_base_or_any_training_text() -> None:
    """The evaluation set is never trained on: no report (or its problem clause) appears in the
    knowledge base, the written seed examples or the synthetic training reports."""
    evals = {_norm(r["text"]) for r in _eval_rows()}
    kb_texts = []
    for r in knowledge.shipped():
        kb_texts += [r.filing_criterion, *r.terms, *r.problems]
    kb_texts += [ex for _, _, ex in seed_rows()]
    training = [e.text for e in examples(knowledge.shipped(), per_class=60)]
    haystack = {_norm(t) for t in kb_texts + training}
    haystack |= {_norm(t) for t in NONE_TEXTS}
    leaked = [t for t in evals if t in haystack]
    assert not leaked, leaked
    # nor is a whole knowledge-base text a whole evaluation report
    long_terms = {_norm(t) for t in kb_texts if len(_norm(t)) >= 8}
    assert not (long_terms & evals)


def test_the_evaluation_set_is_large_varied_and_labelled_with_real_codes() -> None:
    rows = _eval_rows()
    assert len(rows) >= 300
    styles = {r["style"] for r in rows}
    assert styles == {"citizen", "hotline", "inspector"}
    codes = directory_codes()
    for r in rows:
        assert r["code"] == "__none__" or r["code"] in codes, r
        assert all(a in codes for a in r["acceptable"].split(";") if a), r
    assert sum(r["text"].startswith("市民") for r in rows) >= 50
