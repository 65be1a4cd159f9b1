"""The conversation: one WeChat message or event in, one passive reply out.

Short and forgiving (see DESIGN.md): free text of some length starts or extends a draft;
voice adds its recognised text, images and locations attach; the words 提交 匿名 取消 查询 帮助
always work. Everything here runs inside the webhook request: no calls to WeChat.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot import texts
from core.identity import IdentityVault
from core.models import Conversation, Group, QrCode
from intake import drafts
from intake.cases import EmptyDraft, cases_of, find_case, status_label, submit_draft
from intake.clock import local_date_str

MIN_REPORT_CHARS = 6  # shorter text outside a draft ("你好") gets the help line, not a draft
SUBMIT, ANONYMOUS, CANCEL, QUERY, HELP, NAMED = "提交", "匿名", "取消", "查询", "帮助", "实名"
QUERY_WORDS = {QUERY, "进度", "查询进度"}
HELP_WORDS = {HELP, "?", "？", "help"}
# Menu buttons (CLICK events) map onto the same words.
MENU_KEYS = {"REPORT_HELP": HELP, "QUERY": QUERY, "SUBMIT": SUBMIT}
_TRAILING = re.compile(r"[\s。！!，,.；;]+$")
_QUERY_CODE = re.compile(r"^(?:查询|进度)\s*(XC\d{6,})\s+([0-9A-Za-z]{4,12})$", re.I)
_NAMED = re.compile(r"^实名\s*[:：]?\s*(\S{1,20}?)\s*[,，\s]\s*(1\d{10}|0\d{2,3}-?\d{7,8})$")


@dataclass
class Outcome:
    reply: str | None  # None: answer "success" (no reply)
    downloads: list[int] = field(default_factory=list)  # attachment ids to fetch after commit


def handle(s: Session, vault: IdentityVault, msg) -> Outcome:
    """`msg` is a parsed wechatpy message or event."""
    kind = msg.type
    if kind == "event":
        return _event(s, vault, msg)
    openid = msg.source
    conv = drafts.touch_conversation(s, vault, openid)
    if kind == "text":
        return Outcome(_text(s, vault, conv, openid, (msg.content or "").strip()))
    if kind == "voice":
        draft, att = drafts.add_media(s, conv, "voice", msg.media_id, msg.format, (msg.recognition or "").strip())
        note = "" if att.recognition else "（未能识别语音文字，原声已保存）"
        return Outcome(_added(s, draft, "voice", note), [att.id])
    if kind == "image":
        draft, att = drafts.add_media(s, conv, "image", msg.media_id)
        return Outcome(_added(s, draft, "image"), [att.id])
    if kind == "location":
        draft = drafts.add_location(s, conv, float(msg.location_x), float(msg.location_y), msg.label or None)
        return Outcome(_added(s, draft, "location"))
    return Outcome(texts.UNSUPPORTED)


def _event(s: Session, vault: IdentityVault, msg) -> Outcome:
    event = msg.event
    if event in ("subscribe_scan", "scan"):
        conv = drafts.touch_conversation(s, vault, msg.source)
        qr = s.scalar(sa.select(QrCode).where(QrCode.scene == (msg.scene_id or "")))
        if qr is not None:
            drafts.remember_scene(s, conv, qr)
        return Outcome(_greeting(s, qr, conv))
    if event == "subscribe":
        conv = drafts.touch_conversation(s, vault, msg.source)
        return Outcome(_greeting(s, None, conv))
    if event == "click" and msg.key in MENU_KEYS:
        conv = drafts.touch_conversation(s, vault, msg.source)
        return Outcome(_text(s, vault, conv, msg.source, MENU_KEYS[msg.key]))
    # unsubscribe, the periodic LOCATION report, VIEW and the rest need no answer
    return Outcome(None)


def _text(s: Session, vault: IdentityVault, conv: Conversation, openid: str, raw: str) -> str:
    text = _TRAILING.sub("", raw.replace("\u3000", " ")).strip()
    if text == SUBMIT:
        return _submit(s, vault, conv, openid)
    if text == ANONYMOUS:
        draft = drafts.set_anonymous(s, conv)
        return texts.anonymous_set(draft.entry_count > 0)
    if text == CANCEL:
        return texts.CANCELLED if drafts.cancel(s, conv) else texts.NOTHING_TO_CANCEL
    if text in QUERY_WORDS:
        return _my_cases(s, vault, openid)
    if text in HELP_WORDS:
        return texts.HELP
    if m := _QUERY_CODE.match(text):
        return _anonymous_case(s, m.group(1), m.group(2))
    if text.startswith(NAMED) and len(text) <= 40:
        if m := _NAMED.match(text):
            draft = drafts.set_named(s, conv, vault, m.group(1), m.group(2))
            return texts.named_set(draft.entry_count > 0)
        return texts.NAMED_FORMAT
    draft = drafts.open_draft(s, conv)
    if draft is None and (old := drafts.abandoned_draft(s, conv)) is not None:
        drafts.resume(s, old)  # the citizen is back: the quiet draft continues
        draft = old
    if draft is None and len(text) < MIN_REPORT_CHARS:
        return texts.TOO_SHORT
    draft = drafts.add_text(s, conv, raw.strip())
    return _added(s, draft, "text")


def _added(s: Session, draft, kind: str, note: str = "") -> str:
    s.flush()
    return texts.added(kind, draft.entry_count, drafts.summary(drafts.draft_texts(s, draft)),
                       draft.anonymity == "anonymous", note)


def _submit(s: Session, vault: IdentityVault, conv: Conversation, openid: str) -> str:
    draft = drafts.open_draft(s, conv) or drafts.abandoned_draft(s, conv)
    if draft is None:
        return texts.NOTHING_TO_SUBMIT
    try:
        sub = submit_draft(s, draft, vault, openid, channel="wechat")
    except EmptyDraft:
        return texts.NOTHING_TO_SUBMIT
    group = s.get(Group, sub.case.group_id) if sub.case.group_id else None
    return texts.submitted(sub.case.tracking_no, group.name if group else "巡察办", sub.query_code)


def _my_cases(s: Session, vault: IdentityVault, openid: str) -> str:
    cases = cases_of(s, vault.openid_hash(openid))
    lines = [texts.case_line(i, c.tracking_no, local_date_str(c.created_at), status_label(c.status),
                             drafts.summary([c.summary], 30)) for i, c in enumerate(cases, 1)]
    conv = s.scalar(sa.select(Conversation).where(Conversation.openid_hash == vault.openid_hash(openid)))
    pending = drafts.open_draft(s, conv) if conv else None
    if pending is not None and pending.entry_count:
        lines.append(texts.pending_draft(drafts.summary(drafts.draft_texts(s, pending), 30)))
    if not cases:
        return "\n".join([texts.NO_CASES, *lines])
    return "\n".join(["您反映的事项：", *lines])


def _anonymous_case(s: Session, tracking_no: str, code: str) -> str:
    case = find_case(s, tracking_no, code)
    if case is None:
        return texts.CASE_NOT_FOUND
    public = [e for e in case.events if e.public]
    last = public[-1].note if public and public[-1].note else ""
    return f"受理编号：{case.tracking_no}\n状态：{status_label(case.status)}\n{last}".rstrip()


def _greeting(s: Session, qr: QrCode | None, conv: Conversation) -> str:
    if qr is not None:
        group, rnd, unit = qr.group, qr.round, qr.unit
        office = rnd.office
        contact_of = group or office
        contact = "，".join(x for x in (f"电话{contact_of.phone}" if contact_of.phone else None,
                                       contact_of.mailbox, getattr(contact_of, "email", None)) if x)
        text = texts.greeting(group.name if group else office.name, rnd.name,
                              f"{rnd.start:%Y年%m月%d日}至{rnd.end:%Y年%m月%d日}", unit.name if unit else None,
                              contact or None)
    else:
        text = texts.greeting(None, None, None, None, None)
    draft = drafts.open_draft(s, conv)
    if draft is not None and draft.entry_count:
        text += "\n" + texts.pending_draft(drafts.summary(drafts.draft_texts(s, draft), 30))
    return text
