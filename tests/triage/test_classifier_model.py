"""TextClassifier: training, top-k probabilities, corrections, model files, bad input."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cityops.errors import Invalid
from cityops.triage import FeatureConfig, TextClassifier, TrainOptions

OPTS = TrainOptions(features=FeatureConfig(bits=14), calibration_folds=3)

TOPICS = {
    "环境保护": ["工厂排放废气污染空气", "河道污水直排发臭", "夜间施工噪音扰民", "垃圾焚烧烟雾刺鼻"],
    "交通运输": ["公交线路调整不合理", "出租车拒载乱收费", "道路红绿灯时间太短", "公交站台破损无人修"],
    "教育文体": ["学校违规补课收费", "幼儿园入学难问题", "教师编制考试不公平", "体育馆开放时间太短"],
}


def _data(repeat: int = 4) -> tuple[list[tuple[str, str]], list[str]]:
    texts, labels = [], []
    for label, phrases in TOPICS.items():
        for i in range(repeat):
            for j, p in enumerate(phrases):
                texts.append(
                    (f"关于{p}的反映{i}", f"我们小区附近{p}，已经持续{i + j + 1}个月，请相关部门处理。")
                )
                labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    texts, labels = _data()
    return TextClassifier.train(texts, labels, fields=("subject", "detail"), options=OPTS)


def test_top_k_probabilities(model: TextClassifier) -> None:
    top = model.predict_top_k([("工厂废气污染", "排放废气，空气很差"), ("", "公交线路不合理")], k=2)
    assert top[0][0][0] == "环境保护"
    assert top[1][0][0] == "交通运输"
    for row in top:
        assert len(row) == 2 and row[0][1] >= row[1][1]
    proba = model.predict_proba([("学校补课收费", "")])
    assert proba.shape == (1, 3) and np.isclose(proba.sum(), 1.0)
    assert model.labels[proba.argmax()] == "教育文体"


def test_plain_string_goes_to_last_field(model: TextClassifier) -> None:
    labels, conf = model.predict(["幼儿园入学难，教师编制不公平"])
    assert labels == ["教育文体"] and 0 < conf[0] <= 1


def test_empty_other_script_and_long_texts(model: TextClassifier) -> None:
    top = model.predict_top_k([("", "   "), ("", "The street lamp is broken"), ("", "噪音" * 50_000)], k=3)
    assert top[0] == []
    assert len(top[1]) == 3 and all(0 <= p <= 1 for _, p in top[1])  # no crash, some answer
    assert top[2][0][0] == "环境保护"
    labels, conf = model.predict([("", "")])
    assert labels == [""] and conf[0] == 0


def test_save_load_roundtrip(model: TextClassifier, tmp_path: Path) -> None:
    path = tmp_path / "m.model"
    model.save(path)
    again = TextClassifier.load(path)
    probe = [("河道污水", "发臭"), ("出租车", "拒载")]
    assert np.allclose(again.predict_proba(probe), model.predict_proba(probe), atol=1e-6)
    assert again.fields == ("subject", "detail")
    assert "numpy" in again.info["library_versions"]
    assert not list(tmp_path.glob(".*tmp"))  # the temp file was renamed, not left behind


def _rewrite_header(src: Path, dst: Path, **changes: object) -> None:
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays.pop("header").tobytes())
    header.update(changes)
    np.savez(dst, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)


def test_incompatible_and_damaged_files(model: TextClassifier, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    model.save(good)
    old = tmp_path / "old.npz"
    _rewrite_header(good, old, format_version=999)
    with pytest.raises(Invalid, match=r"不兼容.*incompatible"):
        TextClassifier.load(old)
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(Invalid, match="model"):
        TextClassifier.load(junk)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as z:
        z.writestr("x.npy", b"")
    with pytest.raises(Invalid):
        TextClassifier.load(tmp_path / "other.npz")
    with pytest.raises(Invalid, match="不存在"):
        TextClassifier.load(tmp_path / "missing.model")


def test_one_class_and_empty_training_data() -> None:
    with pytest.raises(Invalid, match="至少需要 2"):
        TextClassifier.train(["a", "b"], ["x", "x"], options=OPTS)
    with pytest.raises(Invalid):
        TextClassifier.train(["  ", ""], ["x", "y"], options=OPTS)


def test_corrections_override_history() -> None:
    texts, labels = _data(repeat=2)
    probe = ("关于夜间施工噪音扰民的反映0", "我们小区附近夜间施工噪音扰民，已经持续3个月，请相关部门处理。")
    assert probe in texts
    fixed = TextClassifier.train(
        texts, labels, fields=("subject", "detail"), corrections=[(probe, "交通运输")], options=OPTS
    )
    assert fixed.info["n_corrections"] == 1
    assert fixed.predict([probe])[0] == ["交通运输"]


def test_taxonomy_agnostic_codes() -> None:
    texts = ["井盖破损缺失", "井盖丢失危险", "路灯不亮", "路灯损坏", "暴露垃圾", "垃圾堆放"] * 3
    codes = ["01001", "01001", "01012", "01012", "06010", "06010"] * 3
    m = TextClassifier.train(texts, codes, options=TrainOptions(features=FeatureConfig(bits=12)))
    assert m.predict(["路灯坏了不亮"])[0] == ["01012"]


def test_svm_learner_still_available_and_unknown_learner_refused() -> None:
    texts, labels = _data(repeat=2)
    svm = TextClassifier.train(
        texts,
        labels,
        fields=("subject", "detail"),
        options=TrainOptions(features=FeatureConfig(bits=14), learner="svm", calibration_folds=0),
    )
    assert svm.info["learner"] == "svm"
    assert svm.predict([("工厂废气污染", "排放废气")])[0] == ["环境保护"]
    with pytest.raises(Invalid):
        TextClassifier.train(texts, labels, options=TrainOptions(learner="forest"))


def test_default_learner_is_nb_scaled_ridge_on_char_1_2_grams(model: TextClassifier) -> None:
    assert model.info["learner"] == "ridge" and model.info["nb_scale"] == 0.5
    assert (model.config.ngram_min, model.config.ngram_max) == (1, 2)
    assert model.config.algorithm == 2  # digits folded


def test_plain_ridge_still_available() -> None:
    texts, labels = _data(repeat=2)
    plain = TextClassifier.train(
        texts,
        labels,
        fields=("subject", "detail"),
        options=TrainOptions(features=FeatureConfig(bits=14), nb_scale=0.0, calibration_folds=0),
    )
    assert plain.info["nb_scale"] == 0.0
    assert plain.predict([("工厂废气污染", "排放废气")])[0] == ["环境保护"]


def test_algorithm_1_files_still_predict_as_trained(tmp_path: Path) -> None:
    """Files written before digit folding (feature algorithm 1) keep their featurizer."""
    texts, labels = _data(repeat=2)
    v1 = TextClassifier.train(
        texts,
        labels,
        fields=("subject", "detail"),
        options=TrainOptions(features=FeatureConfig(bits=14, algorithm=1), calibration_folds=0),
    )
    path = tmp_path / "v1.model"
    v1.save(path)
    again = TextClassifier.load(path)
    assert again.config.algorithm == 1
    probe = [("公交线路2019年调整", "12路公交"), ("河道污水", "发臭")]
    assert np.allclose(again.predict_proba(probe), v1.predict_proba(probe), atol=1e-6)


def test_unknown_feature_algorithm_is_incompatible(model: TextClassifier, tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    model.save(good)
    with np.load(good, allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes())
    future = tmp_path / "future.npz"
    _rewrite_header(good, future, features={**header["features"], "algorithm": 99})
    with pytest.raises(Invalid, match=r"不兼容.*algorithm 99.*retrain") as err:
        TextClassifier.load(future)
    assert err.value.code == "incompatible_model"
