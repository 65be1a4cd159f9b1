"""The taxonomy as data (`routing/taxonomy.yaml`, or an office's own file)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT = Path(__file__).with_name("taxonomy.yaml")


@dataclass(frozen=True)
class Taxonomy:
    kinds: dict[str, str]  # code → Chinese name
    domains: dict[str, str]
    domain_words: dict[str, tuple[str, ...]]
    officials: tuple[str, ...]
    top_officials: tuple[str, ...]
    misconduct: tuple[str, ...]
    out_of_scope: tuple[str, ...]  # phrases; "a+b": both within one clause
    not_officials: tuple[str, ...] = ()  # words ending in a title that name no cadre (班主任)

    @property
    def user_words(self) -> list[str]:
        """Words jieba must keep whole."""
        words = {w for ws in self.domain_words.values() for w in ws}
        words |= set(self.officials) | set(self.misconduct) | set(self.not_officials)
        words |= {part for entry in self.out_of_scope for part in entry.split("+")}
        return sorted(words)


def _words(values) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())  # YAML reads 12345 as a number


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    data = yaml.safe_load(Path(path or DEFAULT).read_text(encoding="utf-8"))
    domains = data["domains"]
    rules = data.get("rules") or {}
    return Taxonomy(
        kinds=dict(data["kinds"]),
        domains={code: spec["name"] for code, spec in domains.items()},
        domain_words={code: _words(spec.get("words")) for code, spec in domains.items()},
        officials=_words(rules.get("officials")),
        top_officials=_words(rules.get("top_officials")),
        misconduct=_words(rules.get("misconduct")),
        out_of_scope=_words(rules.get("out_of_scope")),
        not_officials=_words(rules.get("not_officials")),
    )
