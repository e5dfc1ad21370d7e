"""Reading labelled exports (CSV / Excel) and writing result tables atomically.

Hotline systems export tables with either English or Chinese headers (the teddy2020 files use
``subject,detail,label`` in some files and ``留言主题,留言详情`` in others), in UTF-8 with or without
a BOM, or in GB18030 when they come from Excel on a Chinese Windows. The readers here accept all of
those so that one ``--text-columns subject,detail`` works on every file as exported.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cityops.errors import Invalid

# Long complaint texts exceed the csv module's default 128 KiB field limit in real exports.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

#: Header synonyms: a requested column name also matches these headers (case-insensitive).
ALIASES: dict[str, tuple[str, ...]] = {
    "subject": ("留言主题", "主题", "标题", "title"),
    "detail": ("留言详情", "详情", "内容", "正文", "content", "text", "body"),
    "label": ("一级标签", "一级分类", "标签", "分类", "类别", "category"),
    "id": ("留言编号", "编号", "案卷号"),
}


@dataclass
class Table:
    """A table read from one or more files: the header in order and the rows as dicts."""

    columns: list[str]
    rows: list[dict[str, str]]
    sources: list[str]

    def resolve(self, name: str) -> str:
        """Return the actual header that the requested column ``name`` refers to.

        Raises ``Invalid`` (bilingual) when no header matches, listing the headers that exist.
        """
        found = resolve_column(self.columns, name)
        if found is None:
            raise Invalid(
                f"找不到列“{name}”，文件中的列为：{', '.join(self.columns)}",
                f"column '{name}' not found; the file has: {', '.join(self.columns)}",
                code="missing_column",
                details={"column": name, "columns": self.columns},
            )
        return found


def resolve_column(columns: Sequence[str], name: str) -> str | None:
    """Match ``name`` against ``columns``: exactly, then case-insensitively, then via ALIASES."""
    if name in columns:
        return name
    lowered = {c.strip().lower(): c for c in columns}
    key = name.strip().lower()
    if key in lowered:
        return lowered[key]
    for canonical, synonyms in ALIASES.items():
        names = {canonical, *(s.lower() for s in synonyms)}
        if key in names:
            for candidate in names:
                if candidate in lowered:
                    return lowered[candidate]
    return None


def _decode(raw: bytes, path: Path) -> str:
    # UTF-8 (with or without BOM) first: it is what modern exports use and it fails loudly on
    # GB text, so a wrong guess cannot silently produce mojibake.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid(
        f"无法识别文件编码（应为 UTF-8 或 GB18030）：{path}",
        f"cannot decode {path}: expected UTF-8 or GB18030",
        code="bad_encoding",
    )


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    text = _decode(path.read_bytes(), path)
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise Invalid(f"文件为空：{path}", f"file is empty: {path}", code="empty_file") from None
    rows = []
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        rows.append({h: (record[i] if i < len(record) else "") for i, h in enumerate(header)})
    return header, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    import openpyxl  # imported lazily: only Excel input needs it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or wrong file
        raise Invalid(
            f"无法读取 Excel 文件：{path}（{exc}）", f"cannot read Excel file {path}: {exc}", code="bad_file"
        ) from None
    try:
        sheet = book.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        first = next(values, None)
        if first is None:
            raise Invalid(f"文件为空：{path}", f"file is empty: {path}", code="empty_file")
        header = ["" if v is None else str(v).strip() for v in first]
        rows = []
        for record in values:
            cells = ["" if v is None else str(v) for v in record]
            if not any(c.strip() for c in cells):
                continue
            rows.append({h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h})
        return [h for h in header if h], rows
    finally:
        book.close()


def read_table(paths: Iterable[str | os.PathLike[str]]) -> Table:
    """Read one or more CSV/XLSX files into one Table (union of headers, rows in file order)."""
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    sources: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise Invalid(f"文件不存在：{path}", f"file not found: {path}", code="file_not_found")
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            header, part = _read_xlsx(path)
        else:
            header, part = _read_csv(path)
        for h in header:
            if h not in columns:
                columns.append(h)
        rows.extend(part)
        sources.append(str(path))
    if not sources:
        raise Invalid("未提供输入文件", "no input file given", code="no_input")
    return Table(columns, rows, sources)


def field_values(table: Table, text_columns: Sequence[str], *, require_all: bool = False) -> list[list[str]]:
    """Per row, the values of the requested text columns (in order), '' where a column is absent.

    Files combined with several ``--input`` may each carry only some of the columns; a column that
    no file has at all is an error because it is almost always a typo.
    """
    resolved: list[str | None] = []
    for name in text_columns:
        col = resolve_column(table.columns, name)
        if col is None and (require_all or len(text_columns) == 1):
            table.resolve(name)  # raises the bilingual error
        resolved.append(col)
    if all(c is None for c in resolved):
        table.resolve(text_columns[0])
    return [[(row.get(c) or "") if c else "" for c in resolved] for row in table.rows]


def write_csv_atomic(
    path: str | os.PathLike[str], columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Write a UTF-8 (BOM, so Excel opens it right) CSV via a temp file + rename: never half-written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
