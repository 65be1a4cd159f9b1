"""Labelled reports from an office's own files: `flask routing eval` scores the router on them,
`flask routing import` keeps them as training data (instance/training/, one CSV per file).

An office keeps its history in Excel: a workbook (.xlsx) or a CSV that Excel saved, which on a
Chinese Windows is GB18030 (GBK), not UTF-8 (UTF-16 for "Unicode 文本"). All are read; a file
mixing encodings, an old .xls, or a workbook in disguise gets a clear error instead. The header
may sit under a title row, on any sheet, in English or Chinese (文本, 类别, 领域, 单位, 二维码,
巡察组); merged cells are filled down. Labels may be the taxonomy's codes (clue, funds) or its
Chinese names (问题线索, 惠民惠农资金), in any width or case; an expected office queue is
`office`, `-` or 巡察办.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import os
import re
import unicodedata
from pathlib import Path

from routing.taxonomy import Taxonomy

log = logging.getLogger(__name__)

COLUMNS = ("text", "kind", "domain", "unit", "qr", "group")
OFFICE = {"office", "-", "巡察办", "巡察办分办"}  # an expected group meaning the office's queue
HEADERS = {  # what offices call the columns
    "text": "text", "文本": "text", "内容": "text", "反映内容": "text", "问题描述": "text", "留言": "text",
    "kind": "kind", "类别": "kind", "性质": "kind", "问题性质": "kind",  # not 类型: in 信访 ledgers, the channel
    "domain": "domain", "领域": "domain", "问题领域": "domain",
    "unit": "unit", "单位": "unit", "被反映单位": "unit",
    "qr": "qr", "二维码": "qr", "场景": "qr",
    "group": "group", "巡察组": "group", "承办": "group", "分组": "group",
}
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


class LabeledFileError(ValueError):
    """The file cannot be read as labelled reports; the message says why."""


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The file's rows with text, as dicts of the COLUMNS (missing cells are "")."""
    path = Path(path)
    head = path.read_bytes()[:8]
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LabeledFileError(f"{path}: an old Excel .xls file: in Excel, save it as .xlsx")
    if path.suffix.lower() in (".xlsx", ".xlsm") or head.startswith(b"PK\x03\x04"):
        sheets = _xlsx(path)
    else:
        sheets = [_csv(path)]
    for table in sheets:
        found = _header(path, table)
        if found is not None:
            at, columns = found
            return [row for values in table[at + 1:] if (row := _row(columns, values))["text"]]
    raise LabeledFileError(f"{path}: no 'text' column (columns: {','.join(COLUMNS)}, or 文本/类别/领域…)")


def normalise(rows: list[dict[str, str]], taxonomy: Taxonomy) -> list[dict[str, str]]:
    """The rows with codes for label names (any width, case, stray invisible characters)."""
    known = {col: {_fold(k): k for k in labels} | {_fold(n): k for k, n in labels.items()}
             for col, labels in (("kind", taxonomy.kinds), ("domain", taxonomy.domains))}
    return [{**row, **{col: names.get(_fold(row[col]), row[col]) for col, names in known.items()}}
            for row in rows]


def read_labelled(path: str | Path, taxonomy: Taxonomy) -> tuple[list[dict[str, str]], list[str]]:
    """The file's rows with labels as codes, and what is wrong with their labels."""
    rows = normalise(read_rows(path), taxonomy)
    return rows, check_labels(rows, taxonomy)


def check_labels(rows: list[dict[str, str]], taxonomy: Taxonomy) -> list[str]:
    """What is wrong with the (normalised) rows' labels, one line per problem."""
    problems = []
    for row in rows:
        for col, known in (("kind", taxonomy.kinds), ("domain", taxonomy.domains)):
            if row[col] and row[col] not in known:
                problems.append(f"unknown {col} {row[col]!r} (one of {', '.join(known)}) in 「{row['text'][:20]}」")
    return problems


def import_name(path: str | Path) -> str:
    """The kept file's name for an imported file: readable, and distinct for distinct names
    (台账 2024.xlsx, 台账_2024.xlsx and 台账 2024.csv are three imports)."""
    path = Path(path)
    safe = re.sub(r"[^\w.-]", "_", path.stem).lstrip(".") or "history"
    return f"{safe}-{hashlib.sha256(path.name.encode()).hexdigest()[:6]}.csv"


def save_import(folder: Path, name: str, rows: list[dict[str, str]]) -> tuple[Path, bool]:
    """Keep the labelled rows as folder/name (text,kind,domain); True when that replaced an
    earlier import of the same file (importing it twice keeps it once)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    replaced = path.exists()
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "kind", "domain"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # a training run never reads half a file
    return path, replaced


def imported_rows(folder: Path, taxonomy: Taxonomy) -> list[dict[str, str]]:
    """Every kept import's rows (training data), checked again against today's taxonomy: a file
    copied in by hand or a label the office removed since is skipped, with one log line."""
    rows = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        try:
            found = normalise(read_rows(path), taxonomy)
        except (LabeledFileError, OSError) as exc:
            log.warning("training file skipped: %s", exc)
            continue
        bad = 0
        for r in found:
            if check_labels([r], taxonomy):
                bad += 1
            else:
                rows.append({"text": r["text"], "kind": r["kind"], "domain": r["domain"]})
        if bad:
            log.warning("training file %s: %d rows with labels outside the taxonomy skipped", path.name, bad)
    return rows


def _fold(value: str) -> str:
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", value)).strip().casefold()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps numbers as floats: a group code 1 is not "1.0"
    return _INVISIBLE.sub("", str(value)).strip()


def _header(path: Path, table: list[list]) -> tuple[int, list[str | None]] | None:
    """The header row among the first ten (a title may sit above it) and its column names."""
    for at, values in enumerate(table[:10]):
        raw = [_cell(v) for v in values]
        names = [HEADERS.get(_fold(v)) for v in raw]
        if "text" in names:
            for name in set(n for n in names if n and names.count(n) > 1):
                both = "、".join(r for r, n in zip(raw, names) if n == name)
                raise LabeledFileError(f"{path}: the columns {both} both mean {name!r}: keep one")
            return at, names
    return None


def _row(columns: list[str | None], values: list) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    for name, value in zip(columns, values):
        if name:
            row[name] = _cell(value)
    return row


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Not UTF-8 throughout. GB18030 decodes nearly any bytes, so first make sure no line is
    # UTF-8 Chinese: a file pasted together from both would be read as gibberish.
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            if not line.isascii() and line.decode("utf-8"):
                raise LabeledFileError(f"{path}: mixed encodings (line {number} is UTF-8, others are "
                                       "not): save it again from Excel as .xlsx or UTF-8 CSV")
        except UnicodeDecodeError:
            continue
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise LabeledFileError(f"{path}: neither UTF-8 nor GB18030 text: save it as CSV or .xlsx") from None


def _csv(path: Path) -> list[list[str]]:
    text = _decode(path, path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count)  # Excel: commas; "文本文件": tabs; some locales: ;
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _xlsx(path: Path) -> list[list[list]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, data_only=True)  # not read-only: merged ranges are filled below
    except Exception as exc:  # openpyxl raises several types for a file that is not a workbook
        raise LabeledFileError(f"{path}: not a readable Excel workbook ({exc.__class__.__name__})") from None
    sheets = []
    for sheet in book.worksheets:
        for merged in list(sheet.merged_cells.ranges):
            value = sheet.cell(merged.min_row, merged.min_col).value
            sheet.unmerge_cells(str(merged))
            for r in range(merged.min_row, merged.max_row + 1):
                for c in range(merged.min_col, merged.max_col + 1):
                    sheet.cell(r, c).value = value
        sheets.append([list(r) for r in sheet.iter_rows(values_only=True)])
    book.close()
    return sheets
