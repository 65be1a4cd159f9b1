"""The conversation: one WeChat message or event in, one passive reply out.

Short and forgiving (see DESIGN.md): free text of some length starts or extends a draft;
voice adds its recognised text, images and locations attach; the words 提交 匿名 取消 查询 帮助
always work. Everything here runs inside the webhook request: no calls to WeChat, and only a
few SQL statements for the common pushes (texts, voice, scans).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from bot import rating_words, texts
from core.identity import IdentityVault
from core import clock
from core.clock import local_date_str
from core.models import Conversation, Group, QrCode
from core.models.org import poster_state
from intake import drafts, pushes
from intake.arrivals import Arrival
from intake.cases import EmptyDraft, submit_draft
from intake.progress import cases_of, citizen_view, find_case, latest_replies, status_label
from intake.ratings import NotRatable, awaiting_case, rate_case
from intake.pushes import Piece

MIN_REPORT_CHARS = 6  # shorter text outside a draft ("你好") gets the help line, not a draft
SUBMIT, ANONYMOUS, CANCEL, QUERY, HELP, NAMED = "提交", "匿名", "取消", "查询", "帮助", "实名"
ANONYMOUS_WORDS = {ANONYMOUS, "匿名反映", "我要匿名", "匿名举报"}
ANONYMOUS_SUBMIT = "匿名提交"
NAMED_WORDS = {NAMED, "实名反映", "实名举报", "我要实名"}
QUERY_WORDS = {QUERY, "进度", "查询进度"}
HELP_WORDS = {HELP, "?", "help"}  # compared after `_normal`: ？ and ＨＥＬＰ fold into these
# Menu buttons (CLICK events) map onto the same words.
MENU_KEYS = {"REPORT_HELP": HELP, "QUERY": QUERY, "SUBMIT": SUBMIT}
# Quotes and brackets the citizen copies from the bot's 回复「提交」, and punctuation around a word.
_QUOTES = "「」『』【】〔〕《》〈〉“”‘’\"'()\\[\\]<>"
_WRAPPING = re.compile(rf"^[\s{_QUOTES}]+|[\s{_QUOTES}。!,.;?~…·]+$")
# A tracking number in a short text is a query, whatever the wording around it: 查询 XC… CODE,
# 查询：XC…，CODE, the bot's own 受理编号：XC… 查询码：CODE pasted back. Never a report piece: an
# anonymous case's number and code must not land in a draft tied to the citizen's WeChat.
_TRACKING = re.compile(r"XC\d{6,}", re.I)
_QUERY_CODE = re.compile(r"(XC\d{6,})(?:[\s,:;、/]|查询码|查询|编号|码)*([0-9A-Za-z]{4,12})(?![0-9A-Za-z])", re.I)
QUERY_TEXT_CHARS = 60
QUERY_LIMIT = 10  # tracking number + query code lookups per conversation per hour
QUERY_CASE_LIMIT = 20  # lookups of one tracking number per hour, from any number of accounts
_NAMED = re.compile(r"^实名\s*[:：]?\s*(\S{1,20}?)\s*[,，\s]\s*(1\d{10}|0\d{2,3}-?\d{7,8})$")


def piece_of(msg) -> Piece | None:
    """A message that only adds to the draft (the common case), or None when it needs the
    conversation's state: a command word (typed or spoken), a short text, an event, an
    unsupported type."""
    if msg.type == "text":
        text = (msg.content or "").strip()
        normal = _normal(text)
        return Piece("text", text) if len(normal) >= MIN_REPORT_CHARS and not _is_command(normal) else None
    if msg.type == "voice":
        recognition = (msg.recognition or "").strip()
        if recognition and _is_command(_normal(recognition)):
            return None  # "匿名" or "提交" said aloud: the same as typed
        return Piece("voice", recognition or None, media_id=msg.media_id, media_format=msg.format)
    if msg.type == "image":
        return Piece("image", media_id=msg.media_id)
    if msg.type == "location":
        return Piece("location", msg.label or None, lat=float(msg.location_x), lng=float(msg.location_y))
    return None


def piece_reply(piece: Piece) -> str:
    reply = texts.captured(piece.kind, piece.text)
    if piece.kind == "text" and piece.text.startswith(NAMED):
        reply += "\n" + texts.NAMED_HINT  # "实名举报…": a report, and a wish to give one's name
    return reply


@dataclass
class Outcome:
    """What a push that is not a plain piece did: the reply, the piece it added to the draft (a
    choice of 匿名/实名, a short addition), and the media files to delete once committed."""
    reply: str | None
    piece: Piece | None = None
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Turn:
    s: Session
    vault: IdentityVault
    openid: str

    @property
    def conversation(self) -> str:
        return self.vault.openid_hash(self.openid)

    def draft(self) -> drafts.Draft | None:
        return drafts.open_draft(self.s, self.vault, self.conversation)


def handle(s: Session, vault: IdentityVault, msg) -> Outcome:
    """Everything that is not a plain piece (see `piece_of`) nor an arrival: commands, short
    texts, menu clicks, other events, unsupported types. Returns the reply (None: no reply)."""
    turn = Turn(s, vault, msg.source)
    if msg.type == "event":
        if msg.event == "click" and msg.key in MENU_KEYS:
            return _text(turn, MENU_KEYS[msg.key])
        # unsubscribe, the periodic LOCATION report, VIEW and the rest need no answer
        return Outcome(None)
    if msg._data.get("MsgType") == "event":
        return Outcome(None)  # an event wechatpy does not know (subscribe_msg_popup_event …): no answer
    if msg.type not in ("text", "voice"):
        return Outcome(texts.UNSUPPORTED)
    # A text, or a spoken command (see `piece_of`): its recognised text.
    words = msg.content if msg.type == "text" else msg.recognition
    return _text(turn, (words or "").strip())


def _normal(text: str) -> str:
    """The text as a command is compared: full-width forms folded (ＨＥＬＰ, ？), case folded,
    the quotes and brackets copied from 回复「提交」 and punctuation around it dropped."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if folded == "?":
        return folded  # 帮助
    return _WRAPPING.sub("", folded).casefold()  # one pass takes both ends


def _is_query(text: str) -> bool:
    return len(text) <= QUERY_TEXT_CHARS and bool(_TRACKING.search(text))


def _is_command(text: str) -> bool:
    """Words that act on the draft. A report that begins with 匿名 ("匿名举报村主任…") is one too:
    it makes the draft anonymous as well as adding to it."""
    return (text in (SUBMIT, CANCEL, ANONYMOUS_SUBMIT) or text.startswith(ANONYMOUS) or text in QUERY_WORDS
            or text in HELP_WORDS or text in NAMED_WORDS or _is_query(text) or bool(_NAMED.match(text))
            # 不满意，路灯还是不亮: a rating when a case awaits one (the conversation decides), else a piece
            or rating_words.parse(text) is not None)


ARRIVALS = {"subscribe_scan", "scan", "subscribe"}


def is_arrival(msg) -> bool:
    """A QR scan (`subscribe` with qrscene_…, or `SCAN`) or a follow without a scene."""
    return msg.type == "event" and msg.event in ARRIVALS


def scene_of(msg) -> str:
    return "" if msg.event == "subscribe" else (msg.scene_id or "")


def greeting(arrival: Arrival) -> str:
    """Welcome with the group's name, what the round is about and the group's public contact
    (the office's for a poster without a group, or when there is no poster)."""
    p, o = arrival.poster, arrival.office
    state = poster_state(p.qr_retired_at, _date(p.round_start), _date(p.round_end), clock.today()) if p else None
    if state in ("retired", "ahead", "over"):
        # The office takes reports through this poster (as submission and routing do): say why.
        contact = _contact(o.office_phone, o.office_mailbox, o.office_email) if o is not None else None
        text = texts.greeting(o.office_name if o else None, None, None, None, contact)
        if state == "retired":
            text += "\n" + texts.POSTER_RETIRED
        elif state == "over":
            text += "\n" + texts.round_over(p.round_name)
        else:
            text += "\n" + texts.round_ahead(p.round_name, _date(p.round_start))
    elif p is not None:
        own = "group" if p.group_name else "office"
        source = p if own == "group" else o
        contact = _contact(*(getattr(source, f"{own}_{f}", None) for f in ("phone", "mailbox", "email"))) \
            if source is not None else None
        text = texts.greeting(p.group_name or (o.office_name if o else None), p.round_name,
                              f"{_date(p.round_start):%Y年%m月%d日}至{_date(p.round_end):%Y年%m月%d日}",
                              p.unit_name, contact)
    elif o is not None:
        text = texts.greeting(o.office_name, None, None, None, _contact(o.office_phone, o.office_mailbox,
                                                                        o.office_email))
    else:
        text = texts.greeting(None, None, None, None, None)
    if arrival.pending_count:
        text += "\n" + texts.pending_draft(arrival.pending_summary, arrival.pending_count)
    return text


def _text(turn: Turn, raw: str) -> Outcome:
    text = _normal(raw)
    if text == SUBMIT:
        return Outcome(_submit(turn))
    if text == ANONYMOUS_SUBMIT:
        return Outcome(_submit(turn, anonymous=True))
    # Anything but a submission refreshes the conversation's hour. A submission writes nothing
    # about the conversation: see intake.drafts.
    pushes.touch(turn.s, turn.vault, turn.openid)
    if not text:
        return Outcome(texts.TOO_SHORT)  # nothing but spaces or punctuation: nothing to add
    if text in ANONYMOUS_WORDS:
        draft = turn.draft()
        return Outcome(texts.anonymous_set(draft is not None and draft.entry_count > 0),
                       Piece("mark", anonymity="anonymous"))
    if text.startswith(ANONYMOUS):  # "匿名举报村主任挪用修路款": anonymous, and part of the report
        return Outcome(texts.captured("text", raw) + "\n" + texts.ANONYMOUS_NOTE,
                       Piece("text", raw.strip(), anonymity="anonymous"))
    if text == CANCEL:
        draft = turn.draft()
        if draft is None:
            return Outcome(texts.NOTHING_TO_CANCEL)
        return Outcome(texts.CANCELLED, files=drafts.cancel(turn.s, draft))
    if text in QUERY_WORDS:
        return Outcome(texts.padded(_my_cases(turn)))
    if text in HELP_WORDS:
        return Outcome(texts.HELP)
    if _is_query(text):
        m = _QUERY_CODE.search(text)
        if m is None:
            return Outcome(texts.QUERY_FORMAT)
        from core.app import limiter

        # Each check costs ~13 ms of PBKDF2: a flood of guesses is refused, not computed; per
        # conversation, and per case whoever asks (many accounts guessing one case).
        number = m.group(1).upper()
        if not (limiter().allow(f"query-conversation:{turn.conversation}", QUERY_LIMIT, 3600, turn.s)
                and limiter().allow(f"query-case:{number}", QUERY_CASE_LIMIT, 3600, turn.s)):
            return Outcome(texts.padded(texts.QUERY_LIMITED))
        return Outcome(texts.padded(_anonymous_case(turn.s, number, m.group(2))))
    if (rated := _rating(turn, raw)) is not None:
        return Outcome(rated)
    if m := _NAMED.match(text):
        draft = turn.draft()
        return Outcome(texts.named_set(draft is not None and draft.entry_count > 0),
                       Piece("mark", anonymity="named", name=m.group(1), phone=m.group(2)))
    if text in NAMED_WORDS:
        return Outcome(texts.NAMED_FORMAT)
    if len(text) < MIN_REPORT_CHARS and turn.draft() is None:
        return Outcome(texts.TOO_SHORT)
    piece = Piece("text", raw.strip())  # a short addition to a draft under way
    return Outcome(piece_reply(piece), piece)


def _submit(turn: Turn, anonymous: bool = False) -> str:
    from core.app import jobs, settings

    draft = turn.draft()
    if draft is None or not draft.content:
        return texts.NOTHING_TO_SUBMIT
    conversation = turn.s.get(Conversation, turn.conversation)
    qr = turn.s.get(QrCode, conversation.qr_code_id) if conversation and conversation.qr_code_id else None
    try:
        sub = submit_draft(turn.s, turn.vault, jobs(), settings().media_dir, draft, turn.openid, qr,
                           anonymous=anonymous)
    except EmptyDraft:
        return texts.NOTHING_TO_SUBMIT
    group = turn.s.get(Group, sub.case.group_id) if sub.case.group_id else None
    return texts.padded(texts.submitted(sub.case.tracking_no, group.name if group else "巡察办", sub.query_code))


def _rating(turn: Turn, raw: str) -> str | None:
    """The answer to a rating request (回复 1 满意 2 基本满意 3 不满意), for the citizen's case
    awaiting a rating whose reply is the newest; None when the text is no rating or no case
    awaits one (then it is what it was before: a report's first words, a short addition)."""
    parsed = rating_words.parse(raw)
    if parsed is None:
        return None
    case = awaiting_case(turn.s, turn.conversation)
    if case is None:
        return None
    score, reason = parsed
    try:
        rated = rate_case(turn.s, case, score, reason, "chat")
    except NotRatable as refused:  # answered twice at once: the first one counts
        return str(refused)
    return texts.rated(case.tracking_no, score, rated.reopened, rated.escalated)


def _my_cases(turn: Turn) -> str:
    cases = cases_of(turn.s, turn.conversation)
    # The newest cases' latest public reply too (答复), kept short: a chat answer has room for a few.
    replies = latest_replies(turn.s, [c.id for c in cases[:texts.REPLIES_SHOWN]])
    lines = [texts.case_line(i, c.tracking_no, local_date_str(c.created_at), status_label(c.status),
                             drafts.summary([c.summary], 30), replies.get(c.id)) for i, c in enumerate(cases, 1)]
    pending = turn.draft()
    if pending is not None and pending.entry_count:
        lines.append(texts.pending_draft(pending.summary, pending.entry_count))
    if not cases:
        return "\n".join([texts.NO_CASES, *lines])
    return "\n".join(["您反映的事项：", *lines])


def _anonymous_case(s: Session, tracking_no: str, code: str) -> str:
    case = find_case(s, tracking_no, code)
    if case is None:
        return texts.CASE_NOT_FOUND
    return texts.case_progress(citizen_view(s, case))


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _contact(phone: str | None, mailbox: str | None, email: str | None) -> str | None:
    parts = [f"电话{phone}" if phone else None, f"信箱：{mailbox}" if mailbox else None,
             f"邮箱{email}" if email else None]
    return "，".join(p for p in parts if p) or None
