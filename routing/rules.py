"""Strong signals that overrule the model (with their evidence)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing.taxonomy import Taxonomy

# "official … misconduct" within one clause: 村支书把低保名额给了亲戚 / 挪用修路款的村主任.
_CLAUSE = re.compile(r"[。！？!?；;\n]")


@dataclass(frozen=True)
class RuleHit:
    rule: str  # official+misconduct | out_of_scope
    kind: str
    words: tuple[str, ...]


def strong_signal(text: str, tax: Taxonomy) -> RuleHit | None:
    for clause in _CLAUSE.split(text):
        official = next((w for w in tax.officials if w in clause), None)
        wrong = next((w for w in tax.misconduct if w in clause), None)
        if official and wrong:
            return RuleHit("official+misconduct", "clue", (official, wrong))
    found = tuple(w for w in tax.out_of_scope if w in text)
    if found:
        return RuleHit("out_of_scope", "out_of_scope", found)
    return None


def names_top_official(text: str, tax: Taxonomy) -> str | None:
    """一把手: a clue about a unit's top official rises in priority."""
    return next((w for w in tax.top_officials if w in text), None)
