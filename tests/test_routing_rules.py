"""Routing rules that need no model: gazetteer, group choice, conflict of interest, signals,
duplicate similarity."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from core.models import Group, Staff, Unit
from routing.cluster import bigrams, similarity
from routing.groups import choose_assignee, inspecting_group
from routing.places import Gazetteer
from routing.rules import names_top_official, strong_signal
from routing.taxonomy import load_taxonomy

TAX = load_taxonomy()


def test_gazetteer_names_aliases_and_the_most_specific_unit(db):
    gaz = Gazetteer.load(db)
    assert gaz.find("白沙村的自来水停了").place.path == "青石镇/白沙村"
    assert gaz.find("早禾田的水渠堵了").place.path == "青石镇/早禾田村"  # alias
    m = gaz.find("青石镇白沙村村支书挪用低保金")  # a township and its village: the village
    assert m.place.path == "青石镇/白沙村" and m.word == "白沙村"
    assert gaz.find("人力资源和社会保障局办事拖拉").place.path == "县人社局"
    assert gaz.find("我们这里路灯坏了") is None
    assert gaz.nearest(26.905, 112.551).path == "青石镇/白沙村"
    assert gaz.nearest(40.0, 116.0) is None  # far from every unit


def test_group_inspecting_a_village_is_its_townships(db, round_dates):
    round_dates("2026-11-01", "2026-12-31")
    gaz = Gazetteer.load(db)
    baisha = db.scalar(sa.select(Unit.id).where(Unit.path == "青石镇/白沙村"))
    shimen = db.scalar(sa.select(Unit.id).where(Unit.path == "柳溪镇/石门村"))
    assert inspecting_group(db, gaz, baisha, date(2026, 11, 25)).code == "G1"
    assert inspecting_group(db, gaz, shimen, date(2026, 11, 25)).code == "G2"
    assert inspecting_group(db, gaz, baisha, date(2026, 10, 31)) is None  # not begun
    assert inspecting_group(db, gaz, baisha, date(2027, 3, 1)) is None  # round over


def test_no_one_is_assigned_a_case_about_their_home_unit(db):
    gaz = Gazetteer.load(db)
    g1 = db.scalar(sa.select(Group).where(Group.code == "G1"))
    baisha = db.scalar(sa.select(Unit).where(Unit.path == "青石镇/白沙村"))
    qingshi = db.scalar(sa.select(Unit).where(Unit.path == "青石镇"))
    # A liaison from 白沙村 joins G1: first in line by role, but not for 白沙村 or 青石镇.
    db.add(Staff(login="zhao", name="赵联络员", role="group_liaison", group_id=g1.id, home_unit_id=baisha.id))
    db.flush()
    pick, set_aside = choose_assignee(db, gaz, g1.id, baisha.id)
    assert pick.login == "li" and set_aside == ["zhao"]
    pick, set_aside = choose_assignee(db, gaz, g1.id, qingshi.id)
    assert pick.login == "li" and set_aside == ["zhao"]
    renshe = db.scalar(sa.select(Unit.id).where(Unit.path == "县人社局"))
    pick, set_aside = choose_assignee(db, gaz, g1.id, renshe)
    assert pick.login == "li" and set_aside == []
    # Two liaisons: the one with fewer open cases takes the next.
    from core.models import Case

    li = db.scalar(sa.select(Staff).where(Staff.login == "li"))
    db.add(Case(channel="wechat", text="x", summary="x", status="assigned", assignee_id=li.id))
    db.flush()
    assert choose_assignee(db, gaz, g1.id, renshe)[0].login == "zhao"
    # Everyone conflicted: nobody is assigned, and the evidence says why.
    for m in db.scalars(sa.select(Staff).where(Staff.group_id == g1.id)):
        m.home_unit_id = baisha.id
    db.flush()
    pick, set_aside = choose_assignee(db, gaz, g1.id, baisha.id)
    assert pick is None and sorted(set_aside) == ["li", "zhang", "zhao"]


def test_strong_signals():
    hit = strong_signal("村支书把低保名额给了自己亲戚，优亲厚友", TAX)
    assert hit.kind == "clue" and hit.words == ("村支书", "优亲厚友")
    assert strong_signal("村支书人很好。我家低保被挪用了", TAX) is None  # not in one clause
    hit = strong_signal("我和邻居因为宅基地吵架，已经起诉到法院了", TAX)
    assert hit.kind == "out_of_scope" and "起诉" in hit.words
    assert strong_signal("村里的路灯坏了三个月", TAX) is None
    assert names_top_official("镇长收礼", TAX) == "镇长" and names_top_official("会计收礼", TAX) is None


def test_similarity_of_reports_about_the_same_issue():
    a = bigrams("白沙村自来水停了半个月，一直没人管")
    b = bigrams("白沙村停水半个月了，自来水一直不来")
    c = bigrams("石门村修路的工程款被挪用")
    assert similarity(a, b) > 0.45 > similarity(a, c)


def test_titles_are_words_not_substrings():
    assert names_top_official("副书记收礼", TAX) is None  # a deputy is not the 一把手
    assert names_top_official("原村主任侵占集体资金", TAX) is None  # nor a former one
    assert names_top_official("镇党委书记收受红包", TAX) == "党委书记"
    assert names_top_official("青石镇长期不公开低保名单", TAX) is None  # 镇 长期, not 镇长
    assert strong_signal("班主任收受家长礼品", TAX) is None  # no cadre
    assert strong_signal("副书记收受红包", TAX).words == ("书记", "收受")  # a deputy is still a cadre


def test_out_of_scope_needs_a_dispute_not_a_neighbour():
    assert strong_signal("打12345也没人管，村里的路灯坏了三个月", TAX) is None
    assert strong_signal("我和邻居们都没水喝", TAX) is None
    hit = strong_signal("邻居占了我家的地，两家一直有纠纷", TAX)
    assert hit.kind == "out_of_scope" and hit.words == ("邻居+纠纷",)
    assert strong_signal("邻居家的狗很凶。纠纷的事以后再说", TAX) is None  # not in one clause


def test_names_are_whole_words_and_shared_names_are_told_apart(db):
    gaz = Gazetteer.load(db)
    assert gaz.find("青石板路坏了") is None  # 青石 (青石镇's alias) inside 青石板
    qingshi = db.scalar(sa.select(Unit).where(Unit.path == "青石镇"))
    liuxi = db.scalar(sa.select(Unit).where(Unit.path == "柳溪镇"))
    twin = Unit(name="石门村", path="青石镇/石门村", kind="village", parent_id=qingshi.id)
    db.add(twin)
    db.flush()
    gaz = Gazetteer.load(db)
    assert gaz.find("青石镇石门村的水渠堵了").place.id == twin.id  # the township named says which
    assert gaz.find("柳溪镇石门村的水渠堵了").place.path == "柳溪镇/石门村"
    assert gaz.find("石门村的水渠堵了") is None  # ambiguous: neither is guessed
    assert gaz.find("石门村的水渠堵了", near=liuxi.id).place.path == "柳溪镇/石门村"  # the poster's
