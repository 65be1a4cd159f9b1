"""What the bot says (Chinese). Kept together so an office can read and adjust the wording."""
from __future__ import annotations

from datetime import date

OPTIONS = "回复「提交」提交反映，「匿名」匿名反映，「取消」放弃。"

HELP = (
    "【码上巡察 使用说明】\n"
    "1. 直接发送文字、语音、图片或位置，说明要反映的问题（哪个村/单位、什么人、什么事）；可以分几条发送。\n"
    "2. 回复「提交」提交，提交后会收到受理编号。\n"
    "3. 回复「匿名」匿名反映：不保存您的微信身份，凭受理编号和查询码查询进度；「匿名提交」直接匿名提交。\n"
    "4. 回复「实名 姓名 手机号」实名反映，方便巡察组与您联系。\n"
    "5. 回复「取消」放弃未提交的内容；回复「查询」查看您反映的事项和办理进度；"
    "匿名反映回复「查询 受理编号 查询码」。\n"
    "我们依纪依法保护反映人，严禁打击报复。"
)

UNSUPPORTED = "暂时无法处理这类消息。请发送文字、语音、图片或位置来反映问题，回复「帮助」查看说明。"
TOO_SHORT = "您好，请直接描述要反映的问题（哪个村/单位、什么人、什么事），可以发送文字、语音、图片或位置。回复「帮助」查看说明。"
NOTHING_TO_SUBMIT = "您还没有要提交的内容。请先发送要反映的问题，再回复「提交」。"
NOTHING_TO_CANCEL = "当前没有未提交的反映。"
CANCELLED = "已取消，本次内容未提交，已删除。如需反映问题，请重新发送。"
NO_CASES = "您还没有通过本公众号提交过反映。匿名反映请回复「查询 受理编号 查询码」。"
QUERY_FORMAT = "查询匿名反映，请回复「查询 受理编号 查询码」，例如：查询 XC261125000001 AB12CD34。"
QUERY_LIMITED = "查询过于频繁，请一小时后再试。如需帮助，请拨打巡察组公布的电话。"
CASE_NOT_FOUND = "没有查到：受理编号或查询码不正确。请核对后重新发送「查询 受理编号 查询码」。"
NAMED_FORMAT = "实名反映请按格式回复：实名 姓名 手机号，例如「实名 张三 13800000000」。"
ANONYMOUS_NOTE = ("已设为匿名反映：不保存您的微信身份，提交后凭受理编号和查询码查询进度。\n"
                  "请注意：语音会留下您的声音，位置会显示您所在的地方，照片可能拍到可辨认的人和物；"
                  "如担心被认出，请只用文字反映。")
NAMED_HINT = "如需实名反映，请再回复「实名 姓名 手机号」。"


PADDED_BYTES = 512


def padded(reply: str) -> str:
    """The reply with trailing spaces to a whole number of 512-byte blocks (1024 at least): an
    anonymous submission's or lookup's reply is as long as anyone else's, in logs and on the wire."""
    size = len(reply.encode())
    want = max(2 * PADDED_BYTES, -(-size // PADDED_BYTES) * PADDED_BYTES)
    return reply + " " * (want - size)


def greeting(group_name: str | None, round_name: str | None, period: str | None, unit_name: str | None,
             contact: str | None) -> str:
    who = group_name or "巡察办"
    lines = [f"您好！这里是{who}。"]
    if round_name:
        about = f"{round_name}（{period}）正在开展" if period else f"{round_name}正在开展"
        target = f"，欢迎反映{unit_name}党员干部作风、惠民资金、集体“三资”、工程项目等方面的问题线索和身边的急难愁盼问题。" \
            if unit_name else "，欢迎反映党员干部问题线索和身边的急难愁盼问题。"
        lines.append(about + target)
    if contact:
        lines.append(f"联系方式：{contact}")
    lines.append("请直接发送文字、语音、图片或位置来反映；回复「帮助」查看说明。")
    return "\n".join(lines)


POSTER_RETIRED = "这张二维码已停用，您的反映将由巡察办受理。"


def round_over(round_name: str) -> str:
    return f"这张二维码所属的{round_name}已经结束，您的反映将由巡察办受理。"


def round_ahead(round_name: str, start: date) -> str:
    return f"这张二维码所属的{round_name}将于{start:%Y年%m月%d日}开始，在此之前您的反映由巡察办受理。"


def captured(kind: str, text: str | None) -> str:
    """The echo of one piece: what was understood, and the options. It depends on the message
    only, so the webhook can store it with the message in one step."""
    echo = {"text": "已记录：{}", "voice": "已记录语音：{}", "image": "已记录图片。{}",
            "location": "已记录位置：{}"}[kind]
    shown = _short(text or "", 40)
    if kind == "voice" and not shown:
        shown = "（未能识别语音文字，原声已保存）"
    return f"{echo.format(shown)}\n可继续补充文字、语音、图片或位置；{OPTIONS}"


def _short(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def submitted(tracking_no: str, handler: str, query_code: str | None) -> str:
    lines = ["提交成功，您的反映已受理。", f"受理编号：{tracking_no}"]
    if query_code:
        lines.append(f"查询码：{query_code}")
        lines.append("这是匿名反映，我们没有保存您的身份。请妥善保存受理编号和查询码，"
                     "回复「查询 受理编号 查询码」查看进度。")
    else:
        lines.append("回复「查询」可查看办理进度。")
    lines.append(f"承办：{handler}。感谢您对巡察工作的支持！")
    return "\n".join(lines)


_AFTER_SETTING = "回复「提交」提交，「取消」放弃。"
_BEFORE_CONTENT = "请发送要反映的问题，发完后回复「提交」。"


def anonymous_set(has_content: bool) -> str:
    return ANONYMOUS_NOTE + "\n" + (_AFTER_SETTING if has_content else _BEFORE_CONTENT)


def named_set(has_content: bool) -> str:
    return ("已设为实名反映：您的姓名和手机号加密保存，仅用于巡察组与您联系。\n"
            + (_AFTER_SETTING if has_content else _BEFORE_CONTENT))


def pending_draft(summary: str, count: int) -> str:
    return f"您有一条未提交的反映（{count}条内容）：{summary}\n{OPTIONS}"


def case_progress(view) -> str:
    """An anonymous case looked up by tracking number and query code (`intake.progress.CaseView`)."""
    lines = [f"受理编号：{view.tracking_no}", f"反映时间：{view.submitted_on:%Y-%m-%d}", f"状态：{view.status}"]
    latest, reply = view.latest, view.reply
    if latest is not None and latest.note and latest is not reply:
        lines.append(f"最新进展（{latest.on:%Y-%m-%d}）：{latest.note}")
    if reply is not None:
        lines.append(f"答复（{reply.on:%Y-%m-%d}）：{reply.note}")
    return "\n".join(lines)


REPLIES_SHOWN = 3  # cases whose latest reply 查询 shows
REPLY_CHARS = 150


def case_line(i: int, tracking_no: str, date: str, status: str, summary: str, reply=None) -> str:
    """One case of 查询; `reply` (`intake.progress.Step`) is its latest public reply, if any."""
    line = f"{i}. {tracking_no}（{date}）{status}\n   {summary}"
    if reply is not None:
        line += f"\n   答复（{reply.on:%Y-%m-%d}）：{_short(reply.note or '', REPLY_CHARS)}"
    return line


SCORE_WORDS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}


def rated(tracking_no: str, score: str, reopened: bool, escalated: bool) -> str:
    """The thanks for a rating given in the chat (回访评价)."""
    lines = [f"感谢您的评价！受理编号{tracking_no}：{SCORE_WORDS[score]}。"]
    if escalated:
        lines.append("您再次评价不满意，此事已提交巡察办督办，办理后会再次答复您。")
    elif reopened:
        lines.append("此事已重新交巡察组办理，办理后会再次答复您。")
    else:
        lines.append("欢迎继续监督。")
    return "\n".join(lines)
