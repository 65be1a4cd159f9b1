"""Labelled reports from an office's own files: `flask routing eval` scores the router on them,
`flask routing import` keeps them as training data (instance/training/, one CSV per file).

An office keeps its history in Excel: a workbook (.xlsx) or a CSV that Excel saved, which on a
Chinese Windows is GB18030 (GBK), not UTF-8. Both are read. Labels may be the taxonomy's codes
(clue, funds) or its Chinese names (问题线索, 惠民惠农资金); an expected office queue is `office`,
`-` or 巡察办. Columns: text, kind, domain, unit, qr, group (only text is required).
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from routing.taxonomy import Taxonomy

COLUMNS = ("text", "kind", "domain", "unit", "qr", "group")
OFFICE = {"office", "-", "巡察办", "巡察办分办"}  # an expected group meaning the office's queue


class LabeledFileError(ValueError):
    """The file cannot be read as labelled reports; the message says why."""


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The file's rows as dicts of stripped strings (missing cells are "")."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows = _xlsx(path)
    else:
        header, rows = _csv(path)
    header = [(h or "").strip().lower() for h in header]
    if "text" not in header:
        raise LabeledFileError(f"{path}: no 'text' column (columns: {','.join(COLUMNS)})")
    out = []
    for values in rows:
        row = {h: _cell(v) for h, v in zip(header, values) if h}
        if row.get("text"):
            out.append({c: row.get(c, "") for c in COLUMNS})
    return out


def normalise(row: dict[str, str], taxonomy: Taxonomy) -> dict[str, str]:
    """Codes for Chinese label names; "" for an expected office queue (group)."""
    kinds = {name: code for code, name in taxonomy.kinds.items()}
    domains = {name: code for code, name in taxonomy.domains.items()}
    row = dict(row)
    row["kind"] = kinds.get(row["kind"], row["kind"])
    row["domain"] = domains.get(row["domain"], row["domain"])
    return row


def check_labels(rows: list[dict[str, str]], taxonomy: Taxonomy) -> list[str]:
    """What is wrong with the (normalised) rows' labels, one line per problem."""
    problems = []
    for row in rows:
        for col, known in (("kind", taxonomy.kinds), ("domain", taxonomy.domains)):
            if row[col] and row[col] not in known:
                problems.append(f"unknown {col} {row[col]!r} (one of {', '.join(known)}) in 「{row['text'][:20]}」")
    return problems


def save_import(folder: Path, name: str, rows: list[dict[str, str]]) -> Path:
    """Keep the labelled rows as folder/NAME.csv (text,kind,domain), replacing a file of that
    name: importing the same history twice keeps it once."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]", "_", name).lstrip(".") or "history"  # no hidden file: glob skips those
    path = folder / f"{safe}.csv"
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "kind", "domain"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # a training run never reads half a file
    return path


def imported_rows(folder: Path) -> list[dict[str, str]]:
    """Every kept import's rows, in file-name order (training data)."""
    rows = []
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        with open(path, encoding="utf-8", newline="") as f:
            rows += [r for r in csv.DictReader(f) if r.get("text")]
    return rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps numbers as floats: a group code 1 is not "1.0"
    return str(value).strip()


def _csv(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise LabeledFileError(f"{path}: neither UTF-8 nor GB18030 text: save it as CSV or .xlsx")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return (rows[0] if rows else []), rows[1:]


def _xlsx(path: Path) -> tuple[list[str], list[list]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for a file that is not a workbook
        raise LabeledFileError(f"{path}: not a readable Excel workbook ({exc.__class__.__name__})") from None
    try:
        rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    return ([_cell(v) for v in rows[0]] if rows else []), rows[1:]
