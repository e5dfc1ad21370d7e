"""The versioned model file: a NumPy ``.npz`` archive with a JSON header, no pickle.

No pickle on purpose: loading a pickled scikit-learn object from another library version can
crash or silently misbehave, and unpickling runs code from the file. Our file holds only arrays
and JSON, so any numpy can read it, and compatibility is decided by our own ``format_version``.

Layout (all arrays are stored only for hash buckets that occurred in training, which keeps the
file small):

``header``        uint8 bytes of a UTF-8 JSON object (see ``FORMAT_VERSION`` and ``write``)
``b{i}_index``    int32, used bucket numbers of feature block ``i``
``b{i}_idf``      float32, their idf
``b{i}_weight``   float32 [n_used, n_classes], their linear weights
``intercept``     float32 [n_classes]
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cityops.errors import Invalid

FORMAT_NAME = "cityops.triage.text-classifier"
#: Bump when the meaning of stored arrays or of the featurizer changes; older files then fail
#: to load with a clear message instead of producing wrong predictions.
FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions recorded in each model file, for the audit trail and for support questions."""
    import platform

    import scipy
    import sklearn

    try:
        from importlib.metadata import version

        cityops_version = version("cityops")
    except Exception:  # not installed as a distribution (e.g. running from a source tree)
        cityops_version = "unknown"
    return {
        "cityops": cityops_version,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def write(path: str | os.PathLike[str], header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write the archive atomically (temp file in the same folder, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    full = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_versions": library_versions(),
        **header,
    }
    payload = np.frombuffer(json.dumps(full, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, header=payload, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bad(path: Path, zh: str, en: str) -> Invalid:
    return Invalid(f"模型文件 {path} {zh}", f"model file {path} {en}", code="bad_model")


def read(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check a model file; every failure is a bilingual ``Invalid``, never a traceback."""
    source = Path(path)
    if not source.is_file():
        raise Invalid(f"模型文件不存在：{source}", f"model file not found: {source}", code="model_not_found")
    try:
        raw = source.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(
            source, "不是有效的分类模型（无法读取）", f"is not a valid classifier model ({exc})"
        ) from None
    if "header" not in arrays:
        raise _bad(source, "缺少文件头，不是分类模型", "has no header: not a classifier model")
    try:
        header = json.loads(arrays.pop("header").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _bad(source, "文件头已损坏", "has a damaged header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _bad(source, "不是分类模型", "is not a triage text-classifier model")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        made_by = header.get("library_versions", {}).get("cityops", "?")
        raise Invalid(
            f"模型文件格式版本 {version}（由 cityops {made_by} 生成）与当前版本 {FORMAT_VERSION} 不兼容，"
            "请用当前版本重新训练",
            f"model format version {version} (made by cityops {made_by}) is incompatible with this "
            f"version ({FORMAT_VERSION}); please retrain the model",
            code="incompatible_model",
            details={"found": version, "expected": FORMAT_VERSION},
        )
    return header, arrays
