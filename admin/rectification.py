"""A handover's rectification (整改): the unit's liaison reports progress with evidence and
proposes a reply; the group approves it (it becomes the public reply, 答复) or sends it back
with a note the unit reads. Evidence files are private: stored under the media folder
(`evidence/…`, the media sweep's patterns never reach them) and served only by the desk's
authorized route."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from admin import handling
from admin.handling import Refused
from core import lifecycle
from core.db import utcnow
from core.models import Case, EvidenceFile, Handover, Staff, UnitReport
from core.models.desk import ProposalState, ReportKind
from intake import media
from intake.imagemeta import strip_metadata

MAX_FILE = 10 * 1024 * 1024
MAX_FILES = 5
EVIDENCE = "evidence"
# What a unit may send as evidence: photos and documents, known by their first bytes.
KINDS = {".jpg": ("image/jpeg", b"\xff\xd8\xff"), ".jpeg": ("image/jpeg", b"\xff\xd8\xff"),
         ".png": ("image/png", b"\x89PNG\r\n\x1a\n"), ".pdf": ("application/pdf", b"%PDF-"),
         ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
         ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04")}


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def handover_of(s: Session, staff: Staff, case: Case) -> Handover | None:
    """The case's latest handover; for a unit's liaison, the latest to its unit."""
    stmt = sa.select(Handover).where(Handover.case_id == case.id)
    if staff.unit_id is not None:
        stmt = stmt.where(Handover.unit_id == staff.unit_id)
    return s.scalar(stmt.order_by(Handover.id.desc()).limit(1))


def reports(s: Session, case: Case, unit_id: int | None = None) -> list[UnitReport]:
    stmt = sa.select(UnitReport).where(UnitReport.case_id == case.id).options(selectinload(UnitReport.files))
    if unit_id is not None:
        stmt = stmt.join(Handover, Handover.id == UnitReport.handover_id).where(Handover.unit_id == unit_id)
    return list(s.scalars(stmt.order_by(UnitReport.id)))


def report_progress(s: Session, staff: Staff, case: Case, media_dir: Path, text: str,
                    uploads: list[Upload]) -> UnitReport:
    """整改进展, with its evidence files."""
    handover = _handover(s, staff, case)
    text = handling.text_field(text, "整改进展")
    files = [_checked(u) for u in uploads if u.filename or u.content]
    if len(files) > MAX_FILES:
        raise Refused(f"每次最多上传{MAX_FILES}个文件")
    report = UnitReport(handover_id=handover.id, case_id=case.id, kind=ReportKind.progress.value, text=text,
                        staff_id=staff.id)
    s.add(report)
    s.flush()
    for name, content_type, content in files:
        rel, digest = media.store(media_dir / EVIDENCE, content, content_type)
        s.add(EvidenceFile(report_id=report.id, case_id=case.id, filename=name, content_type=content_type,
                           size=len(content), sha256=digest, storage_path=f"{EVIDENCE}/{rel}"))
    note = f"整改进展：{text}" + (f"（附证明材料{len(files)}份）" if files else "")
    lifecycle.record(s, case, lifecycle.Actor.staff(staff.id), "unit_progress", note)
    return report


def propose_reply(s: Session, staff: Staff, case: Case, text: str) -> UnitReport:
    """拟答复: waits for the group's decision; one at a time."""
    handover = _handover(s, staff, case)
    text = handling.text_field(text, "拟答复内容")
    if _pending(s, case) is not None:
        raise Refused("已有待巡察组审核的拟答复")
    report = UnitReport(handover_id=handover.id, case_id=case.id, kind=ReportKind.proposal.value, text=text,
                        staff_id=staff.id, state=ProposalState.pending.value)
    s.add(report)
    lifecycle.record(s, case, lifecycle.Actor.staff(staff.id), "reply_proposed", f"单位拟答复：{text}")
    return report


def decide(s: Session, staff: Staff, case: Case, report_id: int, approve: bool, text: str | None,
           note: str | None) -> UnitReport:
    """The group approves the proposal (edited or not: it becomes the public reply) or sends it
    back with a note the unit reads."""
    report = _pending(s, case)
    if report is None or report.id != report_id:
        raise Refused("该拟答复已处理")
    report.decided_by, report.decided_at = staff.id, utcnow()
    if approve:
        handling.reply(s, staff, case, text or report.text)
        report.state = ProposalState.approved.value
    else:
        report.decision_note = handling.text_field(note, "退回意见")
        report.state = ProposalState.sent_back.value
        lifecycle.record(s, case, lifecycle.Actor.staff(staff.id), "proposal_sent_back",
                         f"拟答复退回：{report.decision_note}")
    return report


def evidence_file(s: Session, case: Case, file_id: int, media_dir: Path, unit_id: int | None) -> tuple[EvidenceFile, Path] | None:
    """A stored evidence file of the case (a unit's liaison: only its own unit's), or None."""
    stmt = sa.select(EvidenceFile).where(EvidenceFile.id == file_id, EvidenceFile.case_id == case.id)
    if unit_id is not None:
        stmt = (stmt.join(UnitReport, UnitReport.id == EvidenceFile.report_id)
                .join(Handover, Handover.id == UnitReport.handover_id).where(Handover.unit_id == unit_id))
    found = s.scalar(stmt)
    if found is None:
        return None
    root = media_dir.resolve()
    path = (root / found.storage_path).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return found, path


def _handover(s: Session, staff: Staff, case: Case) -> Handover:
    handover = handover_of(s, staff, case)
    if handover is None:
        raise Refused("本案未交办给本单位")
    return handover


def _pending(s: Session, case: Case) -> UnitReport | None:
    return s.scalar(sa.select(UnitReport).where(UnitReport.case_id == case.id,
                                                UnitReport.kind == ReportKind.proposal.value,
                                                UnitReport.state == ProposalState.pending.value)
                    .order_by(UnitReport.id.desc()).limit(1))


def _checked(upload: Upload) -> tuple[str, str, bytes]:
    name = Path(upload.filename or "").name[-200:] or "文件"
    kind = KINDS.get(Path(name).suffix.lower())
    if kind is None:
        raise Refused(f"{name}：只接受照片（jpg、png）和文档（pdf、docx、xlsx）")
    content_type, magic = kind
    if not upload.content:
        raise Refused(f"{name}：文件是空的")
    if len(upload.content) > MAX_FILE:
        raise Refused(f"{name}：文件超过10MB")
    if not upload.content.startswith(magic):
        raise Refused(f"{name}：文件内容与类型不符")
    content = upload.content
    if content_type.startswith("image/"):
        content = strip_metadata(content).content  # no EXIF (where the photo was taken, by whom)
    return name, content_type, content
