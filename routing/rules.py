"""Strong signals that overrule the model (with their evidence).

Titles are matched on jieba words, not as substrings: 副书记 is not a 书记 for the 一把手 rule,
班主任 is no cadre, and 镇长期 (…镇 长期…) names nobody. A word is a title when it is one
(书记) or ends with one (党委书记, 村主任), unless the taxonomy lists it as not a cadre.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing import segment
from routing.taxonomy import Taxonomy

# "official … misconduct" within one clause: 村支书把低保名额给了亲戚 / 挪用修路款的村主任.
_CLAUSE = re.compile(r"[。！？!?；;\n]")
_DEPUTY = ("副", "原")  # a deputy is not the top official; a former one no longer is


@dataclass(frozen=True)
class RuleHit:
    rule: str  # official+misconduct | out_of_scope
    kind: str
    words: tuple[str, ...]


def _title(word: str, titles: tuple[str, ...], tax: Taxonomy) -> str | None:
    if word in tax.not_officials:
        return None
    return next((t for t in titles if word == t or word.endswith(t)), None)


def _official(words: list[str], tax: Taxonomy) -> str | None:
    return next((w for w in words if _title(w, tax.officials, tax)), None)


def strong_signal(text: str, tax: Taxonomy) -> RuleHit | None:
    clauses = [c for c in _CLAUSE.split(text) if c.strip()]
    for clause in clauses:
        official = _official(segment.tokens(clause), tax)
        wrong = next((w for w in tax.misconduct if w in clause), None)
        if official and wrong:
            return RuleHit("official+misconduct", "clue", (official, wrong))
    # Out of scope: a phrase anywhere, or all parts of an "a+b" entry within one clause
    # (邻居+纠纷: a neighbour dispute, where 邻居 alone is only where the citizen lives).
    found = []
    for entry in tax.out_of_scope:
        parts = entry.split("+")
        if any(all(p in clause for p in parts) for clause in clauses):
            found.append(entry)
    if found:
        return RuleHit("out_of_scope", "out_of_scope", tuple(found))
    return None


def names_top_official(text: str, tax: Taxonomy) -> str | None:
    """一把手: the word naming a unit's top official (not a deputy, not a former one), if any."""
    words = segment.tokens(text)
    for i, word in enumerate(words):
        deputy = word.startswith(_DEPUTY) or (i > 0 and words[i - 1] in _DEPUTY)  # 副 / 书记
        if not deputy and _title(word, tax.top_officials, tax):
            return word
    return None
