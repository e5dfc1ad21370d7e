"""Coordinate helpers: GCJ-02 ↔ WGS-84 conversion and input validation.

Chinese web maps (Amap/高德, Tencent, the DataV boundary files) publish coordinates in
GCJ-02, an obfuscated datum that moves points in Hangzhou by about 500 m. cityops stores
WGS-84 only, so every GCJ-02 input is converted on the way in. The forward transform is the
well-known public formula; its inverse has no closed form and is solved by fixed-point
iteration, which converges to far below a centimetre in a few steps.

All functions accept scalars or numpy arrays and return the same shape (numpy, vectorised).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cityops.errors import Invalid

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
# Iteration stops once the residual is below this many degrees (1e-10° ≈ 0.01 mm).
_INVERSE_TOLERANCE_DEG = 1e-10
_INVERSE_MAX_ITER = 30

Crs = Literal["wgs84", "gcj02"]
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02")

FloatArray = NDArray[np.float64]


def _transform_lat(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: FloatArray, y: FloatArray) -> FloatArray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the point lies outside the rough box in which GCJ-02 applies.

    GCJ-02 leaves points outside China unchanged; the usual public implementations use this
    box, so we do the same to stay interoperable with them.
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 shift (dlon, dlat) at WGS-84 point (lon, lat); zero outside China."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _result(x: FloatArray, scalar: bool) -> Any:
    return float(x) if scalar else x


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 to GCJ-02. Scalars in → floats out; arrays in → arrays out."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _offset(x, y)
    return _result(x + dlon, scalar), _result(y + dlat, scalar)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 to WGS-84 by fixed-point iteration (residual < 1e-10°, i.e. sub-mm).

    Start from ``wgs = gcj - offset(gcj)`` and correct by the remaining error of the forward
    transform until every point has converged.
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    gx = np.asarray(lon, dtype=np.float64)
    gy = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _offset(gx, gy)
    wx, wy = gx - dlon, gy - dlat
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = wgs84_to_gcj02(wx, wy)
        ex, ey = np.asarray(fx) - gx, np.asarray(fy) - gy
        wx, wy = wx - ex, wy - ey
        err = np.atleast_1d(np.maximum(np.abs(ex), np.abs(ey)))
        # NaN inputs never converge; ignore them so they simply stay NaN.
        if not np.any(err[np.isfinite(err)] > _INVERSE_TOLERANCE_DEG):
            break
    return _result(wx, scalar), _result(wy, scalar)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[Any, Any]:
    """Convert from ``crs`` ("wgs84" or "gcj02") to WGS-84."""
    crs = check_crs(crs)
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return _result(x, scalar), _result(y, scalar)


def check_crs(crs: str) -> Crs:
    """Return the normalised CRS name or raise Invalid naming the accepted values."""
    name = str(crs).strip().lower().replace("-", "").replace("_", "").replace(":", "")
    if name in ("wgs84", "epsg4326"):
        return "wgs84"
    if name == "gcj02":
        return "gcj02"
    raise Invalid(
        f"不支持的坐标系：{crs!r}，请使用 wgs84 或 gcj02",
        f"Unsupported coordinate system {crs!r}; use 'wgs84' or 'gcj02'",
        code="invalid_crs",
        details={"field": "crs", "value": str(crs), "allowed": list(CRS_NAMES)},
    )


def _as_float(value: Any, field: str) -> float:
    if isinstance(value, bool):
        # bool is an int subclass; True as a longitude is a client bug, not a coordinate.
        raise Invalid(f"{field} 必须是数字", f"{field} must be a number", details={"field": field})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(
            f"{field} 必须是数字（收到 {value!r}）",
            f"{field} must be a number (got {value!r})",
            details={"field": field},
        ) from None
    if not math.isfinite(number):
        raise Invalid(
            f"{field} 必须是有限的数字（收到 {value!r}）",
            f"{field} must be a finite number (got {value!r})",
            details={"field": field},
        )
    return number


def validate_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    """Return (lon, lat) as floats, or raise Invalid if not finite or outside the world.

    Longitude must lie in [-180, 180] and latitude in [-90, 90]; the message says which one is
    wrong and hints at swapped values, the most common client mistake.
    """
    x = _as_float(lon, "lon")
    y = _as_float(lat, "lat")
    if not -180.0 <= x <= 180.0:
        raise Invalid(
            f"经度 lon={x} 超出范围，应在 -180 到 180 之间",
            f"lon={x} is outside -180..180",
            code="invalid_coordinates",
            details={"field": "lon", "value": x},
        )
    if not -90.0 <= y <= 90.0:
        hint_zh = "（经纬度是否写反了？）" if -90.0 <= x <= 90.0 and abs(y) <= 180.0 else ""
        hint_en = " (are lon and lat swapped?)" if hint_zh else ""
        raise Invalid(
            f"纬度 lat={y} 超出范围，应在 -90 到 90 之间{hint_zh}",
            f"lat={y} is outside -90..90{hint_en}",
            code="invalid_coordinates",
            details={"field": "lat", "value": y},
        )
    return x, y


def validate_lonlat_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised check: finite and inside the world; raises Invalid naming the first bad index."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise Invalid(
            "经度与纬度数组长度不一致",
            f"lon and lat must have the same shape ({x.shape} vs {y.shape})",
            code="invalid_coordinates",
        )
    bad = ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise Invalid(
            f"第 {i} 个坐标无效（需要有限数字，|经度|≤180，|纬度|≤90）",
            f"coordinate #{i} is invalid: needs finite numbers with |lon|<=180 and |lat|<=90",
            code="invalid_coordinates",
            details={"index": i, "lon": float(x.ravel()[i]), "lat": float(y.ravel()[i])},
        )
    return x, y
