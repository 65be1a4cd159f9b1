"""`flask routing explain | eval | import | train | correct` (the design's routing contract, and
the office's own labelled files)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict

import click
import sqlalchemy as sa

from core.app import database, settings
from core.cli import CommandGroup
from core.models import Case, QrCode
from routing.jobs import train_and_save, training_rows
from routing.labeled import OFFICE, LabeledFileError, import_name, read_labelled, save_import

routing_cli = CommandGroup("routing", help="Classify and route reports.")
COLUMNS = ("kind", "domain", "unit", "group")


def _decide(s, text: str, scene: str | None, gaz=None):
    from routing.jobs import router

    qr = s.scalar(sa.select(QrCode).where(QrCode.scene == scene)) if scene else None
    if scene and qr is None:
        raise click.ClickException(f"no QR code with scene {scene!r}")
    return router().decide(s, text, qr, gaz=gaz)


@routing_cli.command("explain")
@click.option("--text", required=True)
@click.option("--qr", "scene", help="The scene of the QR code scanned.")
def explain(text: str, scene: str | None) -> None:
    """Print how a report would be routed, as one JSON object."""
    with database().session() as s:
        click.echo(json.dumps(_decide(s, text, scene).public(), ensure_ascii=False))


@routing_cli.command("eval")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def evaluate(path: str) -> None:
    """Accuracy per column and confusion tables on labelled reports (text,kind,domain,unit,qr,group;
    empty cells are not scored; a group of `office`, `-` or 巡察办 expects the office's queue).
    A CSV (UTF-8, or GB18030 as Excel saves it) or an .xlsx workbook (`routing.labeled`); labels,
    units and groups as codes or as names; rows naming an unknown QR scene are skipped and counted."""
    from routing.places import Gazetteer

    rows, problems = _office_file(path)
    right, total, unknown = Counter(), Counter(), Counter()
    confusion: dict[str, Counter] = defaultdict(Counter)
    with database().session() as s:
        gaz = Gazetteer.load(s)  # once for the whole file
        scenes = dict(s.execute(sa.select(QrCode.scene, QrCode.id)).all())
        names = _names(s, gaz)
        for row in rows:
            for col in ("unit", "group"):  # an office writes 县委第一巡察组 and 白沙村, not G1 and paths
                if row[col] and row[col].lower() not in OFFICE:
                    row[col] = names[col].get(row[col], row[col])
                    if row[col] not in names[col].values():
                        problems.append(f"unknown {col} {row[col]!r} in 「{row['text'][:20]}」")
        for problem in problems[:5]:  # these are scored as wrong: say why
            click.echo(f"warning: {problem}", err=True)
        for row in rows:
            scene = row["qr"] or None
            if scene and scene not in scenes:
                unknown[scene] += 1
                continue
            d = _decide(s, row["text"], scene, gaz).public()
            for col in COLUMNS:
                want = row[col]
                if not want:
                    continue
                if col == "group" and want.lower() in OFFICE:
                    want = ""
                got = d[col] or ""
                total[col] += 1
                right[col] += got == want
                confusion[col][(want or "-", got or "-")] += 1
    click.echo(f"{len(rows)} rows from {path}")
    if unknown:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(unknown.items()))
        click.echo(f"skipped {sum(unknown.values())} rows with an unknown QR scene: {listed}")
    for col in COLUMNS:
        if total[col]:
            click.echo(f"{col:7s} accuracy {right[col] / total[col]:.3f} ({right[col]}/{total[col]})")
    for col in ("kind", "domain"):
        _table(col, confusion[col])


def _office_file(path: str) -> tuple[list[dict[str, str]], list[str]]:
    from routing.taxonomy import load_taxonomy

    try:
        return read_labelled(path, load_taxonomy())
    except LabeledFileError as exc:
        raise click.ClickException(str(exc)) from None


def _names(s, gaz) -> dict[str, dict[str, str]]:
    """What an office may write for a unit or a group → its path or code (codes and paths map to
    themselves; a name two units or groups share is left out)."""
    from core.models import Group

    groups: dict[str, set[str]] = defaultdict(set)
    for code, name in s.execute(sa.select(Group.code, Group.name)):
        groups[code].add(code)
        groups[name].add(code)
    return {"unit": gaz.paths(), "group": {k: next(iter(v)) for k, v in groups.items() if len(v) == 1}}


def _table(col: str, cells: Counter) -> None:
    labels = sorted({a for a, _ in cells} | {b for _, b in cells})
    if not labels:
        return
    w = max(8, *(len(x) for x in labels)) + 1
    click.echo(f"\nconfusion: {col} (rows: expected, columns: predicted)")
    click.echo(" " * w + "".join(f"{x:>{w}}" for x in labels))
    for a in labels:
        click.echo(f"{a:<{w}}" + "".join(f"{cells[(a, b)]:>{w}}" for b in labels))


@routing_cli.command("train")
@click.option("--shipped", is_flag=True, help="Write the shipped model (routing/models), examples only.")
def train_cmd(shipped: bool) -> None:
    """Train kind and domain models on the project's examples plus the office's imported history
    and the cases whose labels staff confirmed; the new model becomes this instance's current one."""
    from routing import model

    rows, counts = training_rows(with_instance=not shipped)
    folder = model.SHIPPED if shipped else settings().instance_path / "models"
    bundle, path = train_and_save(rows, folder)
    click.echo(f"trained {bundle.version} on {len(rows)} examples ({counts['office']} from the office's files, "
               f"{counts['staff']} confirmed by staff) → {path}")


@routing_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_cmd(path: str) -> None:
    """Keep an office's labelled history (a file as for `eval`) as training data for the next
    `flask routing train` and the nightly retrain. The same file name again replaces it."""
    rows, problems = _office_file(path)
    if problems:
        more = f"\n… and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise click.ClickException(f"{path}: nothing imported\n" + "\n".join(problems[:5]) + more)
    labelled = [r for r in rows if r["kind"] or r["domain"]]
    if not labelled:
        raise click.ClickException(f"{path}: no row has a kind or a domain: nothing to learn from")
    kept, replaced = save_import(settings().instance_path / "training", import_name(path), labelled)
    skipped = f" ({len(rows) - len(labelled)} without labels skipped)" if len(rows) > len(labelled) else ""
    again = "; this replaces the earlier import of this file" if replaced else ""
    click.echo(f"kept {len(labelled)} labelled reports from {path} → {kept}{skipped}{again}; "
               "`flask routing train` (or the nightly retrain) learns from them")


@routing_cli.command("correct")
@click.argument("tracking_no")
@click.option("--kind")
@click.option("--domain")
@click.option("--by", "login", required=True, help="The staff member's login.")
def correct(tracking_no: str, kind: str | None, domain: str | None, login: str) -> None:
    """Confirm or correct a case's labels (training data for the next `flask routing train`)."""
    from core.lifecycle import Actor
    from core.models import Staff
    from routing.service import InvalidLabel, correct_labels
    from routing.taxonomy import load_taxonomy

    with database().session() as s:
        case = s.scalar(sa.select(Case).where(Case.tracking_no == tracking_no))
        if case is None:
            raise click.ClickException(f"no case {tracking_no}")
        staff_id = s.scalar(sa.select(Staff.id).where(Staff.login == login))
        if staff_id is None:
            raise click.ClickException(f"no staff member {login!r}")
        try:
            correct_labels(s, case, load_taxonomy(), Actor.staff(staff_id), kind, domain)
        except InvalidLabel as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
        click.echo(f"{tracking_no}: {case.kind}/{case.domain} (confirmed by {login})")
