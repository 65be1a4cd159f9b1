"""Full-text search of cases' text (the desk's 搜索), on PostgreSQL and SQLite alike.

Chinese has no spaces, and a two-character word such as 低保 is what people search for, so a
case's text is indexed as its characters and character pairs (n-grams), not as jieba's words:
a pair index finds any run of two or more characters whichever way jieba would cut it
(低保户 is one jieba word, and 低保 is still found), and it needs no dictionary in the web
process. Latin words and numbers are kept whole, lower-cased.

`case_search.terms` holds those terms, written whenever a case is inserted or its text changes
(mapper events below, so every channel's `open_case` and any later edit keep it). Migration 0005
indexes them: on PostgreSQL a GIN index over `array_to_tsvector(string_to_array(terms, ' '))`
(the terms are lexemes already: no parser, no configuration), on SQLite an FTS5 table kept by
triggers. A query's pairs narrow the cases through the index; the text then contains the query
itself (a LIKE in the same statement), so 低保户 does not match 低保 ... 保户 apart.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import event

from core.models.case import Case, CaseSearch

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-z]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def terms(text: str) -> list[str]:
    """The index terms of a text: every Chinese character and pair, every Latin word or number."""
    out: dict[str, None] = {}
    for run in _RUNS.findall(text.lower()):
        if _HAN.match(run):
            out.update(dict.fromkeys(run))
            out.update(dict.fromkeys(run[i:i + 2] for i in range(len(run) - 1)))
        else:
            out[run] = None
    return list(out)


def query_terms(query: str) -> list[str]:
    """The terms a query needs: pairs of its Chinese runs (a lone character itself), its words."""
    out: dict[str, None] = {}
    for run in _RUNS.findall(query.lower()):
        if _HAN.match(run) and len(run) > 1:
            out.update(dict.fromkeys(run[i:i + 2] for i in range(len(run) - 1)))
        else:
            out[run] = None
    return list(out)


def contains(query: str, text=Case.text) -> sa.ColumnElement[bool]:
    """A condition: `text` (a case's, by default) contains each space-separated part of `query`
    (no index; for cases already narrowed, e.g. the next few thousand of a page's order)."""
    return sa.and_(sa.true(), *[text.contains(part, autoescape=True) for part in query.split() if part])


def matches(query: str, dialect: str) -> sa.ColumnElement[bool]:
    """A condition on `Case` for cases whose text contains `query` (each of its space-separated
    parts), served by the index of `dialect` ("postgresql" or "sqlite")."""
    parts = [p for p in query.split() if p]
    conditions = [contains(query)]
    needed = [t for p in parts for t in query_terms(p)]
    if needed:
        conditions.append(Case.id.in_(_indexed(needed, dialect)))
    return sa.and_(sa.true(), *conditions)


def _indexed(needed: list[str], dialect: str) -> sa.Select:
    if dialect == "postgresql":
        # Terms are only Chinese characters, letters and digits: quoted as lexemes as they are.
        tsquery = " & ".join(f"'{t}'" for t in needed)
        vector = sa.func.array_to_tsvector(sa.func.string_to_array(CaseSearch.terms, " "))
        return sa.select(CaseSearch.case_id).where(vector.op("@@")(sa.cast(tsquery, _TSQUERY)))
    fts = " AND ".join(f'"{t}"' for t in needed)
    return sa.select(sa.column("rowid")).select_from(sa.table("case_search_fts")).where(
        sa.text("case_search_fts MATCH :fts").bindparams(fts=fts))


def unmodelled(name, type_, _parents) -> bool:
    """For Alembic's comparisons: SQLite's FTS5 table and its shadow tables are the migration's,
    not the models' (False: leave them out)."""
    return not (type_ == "table" and name and name.startswith("case_search_fts"))


class _TsQuery(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw):
        return "TSQUERY"


_TSQUERY = _TsQuery()


@event.listens_for(Case, "after_insert")
def _index_new_case(_mapper, conn, case: Case) -> None:
    conn.execute(sa.insert(CaseSearch).values(case_id=case.id, terms=" ".join(terms(case.text or ""))))


@event.listens_for(Case, "after_update")
def _index_changed_text(_mapper, conn, case: Case) -> None:
    if sa.inspect(case).attrs.text.history.has_changes():
        conn.execute(sa.update(CaseSearch).where(CaseSearch.case_id == case.id)
                     .values(terms=" ".join(terms(case.text or ""))))
