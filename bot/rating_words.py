"""The citizen's answer to 「回复 1 满意 2 基本满意 3 不满意，可附原因」, as people write it: the
number, the word, a word of their own (非常满意, 还行, 没解决), a reason after it (不满意，路灯
还是不亮 / 不满意因为… / 3 还没修). Whether it is a rating at all depends on the conversation:
only a citizen with a case awaiting a rating is rating (see `bot.conversation`); for anyone else
the same text is the start of a report, as before.
"""
from __future__ import annotations

import re
import unicodedata

WORDS = {
    "satisfied": ("1", "满意", "非常满意", "很满意", "十分满意", "特别满意", "挺满意", "满意了"),
    "basically": ("2", "基本满意", "比较满意", "还算满意", "还行", "还可以", "一般", "一般般", "凑合"),
    "unsatisfied": ("3", "不满意", "不太满意", "很不满意", "非常不满意", "特别不满意", "没解决", "没有解决",
                    "还没解决", "未解决", "没有处理好"),
}
SCORE_OF = {word: score for score, words in WORDS.items() for word in words}
# These say 不满意 so plainly that a reason may follow with no comma: 不满意路灯还是不亮.
_PLAIN = ("不满意", "不太满意", "很不满意", "非常不满意", "特别不满意")
_ALTERNATION = "|".join(sorted(map(re.escape, SCORE_OF), key=len, reverse=True))
_SEPARATOR = r"[\s,，。.:：;；!！、~～]+"
_BECAUSE = r"因为|原因是|原因|理由是|理由|由于"
_WITH_REASON = re.compile(rf"^({_ALTERNATION})(?:{_SEPARATOR}|(?={_BECAUSE}))(.+)$", re.S)
_PLAIN_REASON = re.compile(rf"^({'|'.join(_PLAIN)})(.+)$", re.S)
_REASON_LEAD = re.compile(rf"^(?:{_SEPARATOR})?(?:{_BECAUSE})?(?:{_SEPARATOR})?")
_WRAPPING = re.compile(r"^[\s「」『』【】〔〕《》〈〉“”‘’\"'()\[\]<>]+|[\s「」『』【】〔〕《》〈〉“”‘’\"'()\[\]<>。!,.;?~…·]+$")


def parse(text: str) -> tuple[str, str | None] | None:
    """(score, reason or None) when `text` reads as a rating, else None."""
    folded = _WRAPPING.sub("", unicodedata.normalize("NFKC", text or "").strip())
    if folded in SCORE_OF:
        return SCORE_OF[folded], None
    m = _WITH_REASON.match(folded) or _PLAIN_REASON.match(folded)
    if m is None:
        return None
    reason = _REASON_LEAD.sub("", m.group(2)).strip()
    return SCORE_OF[m.group(1)], reason or None
