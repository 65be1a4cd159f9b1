"""Chinese word segmentation (分词) for routing, with a domain user dictionary.

jieba's prefix dictionary takes about a second to build, so it is loaded lazily, once per
process, on the first call that needs it (never at import time), under a lock so that threads
racing on first use share one load. The tokenizer is a private `jieba.Tokenizer`, not jieba's
global one, so words added here do not leak into other code that calls `jieba.cut` directly.

Domain words (低保, 危房改造, 集体三资, 八项规定 …) come from `routing/data/userdict.txt`;
unit names and aliases are added at run time with `load_user_words`.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # jieba itself is imported lazily, with the dictionary
    import jieba

USERDICT = Path(__file__).resolve().parent / "data" / "userdict.txt"

# HMM new-word discovery costs about a quarter of the segmentation time and did not help the
# classifier (character n-grams already cover unseen words), so it is off.
HMM = False

_lock = threading.Lock()
_tokenizer: "jieba.Tokenizer | None" = None
_user_words: set[str] = set()
# A token worth keeping has a letter, digit or CJK character (not only spaces or punctuation).
CONTENT = re.compile(r"[^\W_]")


def _read_userdict(path: Path) -> list[tuple[str, int | None]]:
    """Parse a jieba-style user dictionary: `word [freq]`, `#` comments, blank lines skipped."""
    entries: list[tuple[str, int | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        entries.append((parts[0], freq))
    return entries


def tokenizer() -> "jieba.Tokenizer":
    """The process's tokenizer, built on first use with the built-in domain dictionary."""
    global _tokenizer
    if _tokenizer is not None:  # fast path, no lock once loaded
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict…" chatter
            tk = jieba.Tokenizer()
            tk.initialize()
            for word, freq in _read_userdict(USERDICT):
                if word not in _user_words:
                    tk.add_word(word, freq)
                    _user_words.add(word)
            _tokenizer = tk  # published last: other threads see a fully loaded tokenizer
    return _tokenizer


def load_user_words(words: Iterable[str]) -> int:
    """Add domain words (unit names, aliases …) so they stay one token; returns how many were new.

    Idempotent: a word already added is skipped, so callers may pass a round's whole gazetteer
    every time it is loaded.
    """
    tk = tokenizer()
    added = 0
    with _lock:  # jieba's add_word mutates shared dicts
        for word in words:
            word = word.strip()
            if word and word not in _user_words:
                tk.add_word(word)
                _user_words.add(word)
                added += 1
    return added


def user_words() -> frozenset[str]:
    """The words added so far (built-in dictionary and `load_user_words`)."""
    tokenizer()
    return frozenset(_user_words)


def tokens(text: str) -> list[str]:
    """Segment `text` into words, dropping whitespace and punctuation tokens."""
    if not text:
        return []
    return [t for t in tokenizer().lcut(text, HMM=HMM) if CONTENT.search(t)]
