"""Plan model, document (undo/redo/signal) and plan files (atomic save, strict load, migration,
hypothesis round trip over every field)."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.document import PlanDocument
from planner.errors import PlanError
from planner.io.plan_json import PlanFileError, dumps, load_plan, loads, plan_to_dict, save_plan
from planner.model import (
    ANSWERS,
    REVIEW_STATUSES,
    ROUTES,
    SCHEMA_VERSION,
    ApprovalBlockedError,
    AuditEntry,
    ChecklistItem,
    Needle,
    Plan,
    Review,
    Site,
    StructureMargin,
    Trajectory,
    default_checklist,
)
from planner.needles import GAUGE_OD_MM, TIPS

text = st.text(max_size=20)
coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
point = st.tuples(coord, coord, coord)
needle = st.builds(Needle, st.sampled_from(sorted(GAUGE_OD_MM)), st.floats(min_value=5, max_value=300), st.sampled_from(TIPS))


@st.composite
def plans(draw):
    names = draw(st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip()), unique=True, max_size=3))
    trajs = tuple(Trajectory(n, draw(point), draw(point), draw(needle), draw(text), draw(text)) for n in names)
    margins = tuple(
        StructureMargin(draw(text), draw(st.sampled_from(["artery", "vein", "nerve", "bone", "cartilage"])), draw(st.floats(0, 20)), draw(st.booleans()), draw(st.booleans()), draw(text))
        for _ in range(draw(st.integers(0, 3)))
    )
    checklist = tuple(
        ChecklistItem(i, draw(text), draw(text), draw(st.booleans()), draw(st.sampled_from(ANSWERS)), draw(text), draw(text))
        for i in range(1, draw(st.integers(0, 10)) + 1)
    )
    return Plan(
        route=draw(st.sampled_from(ROUTES)),
        site=Site(draw(st.sampled_from(["", "lumbar", "knee", "shoulder", "hip"])), draw(text), draw(st.sampled_from(["", "left", "right"]))),
        study_uid=draw(text),
        series_uid=draw(text),
        frame_of_reference_uid=draw(text),
        trajectories=trajs,
        margins=margins,
        checklist=checklist,
        author=draw(text),
        created=draw(text),
        modified=draw(text),
        review=Review(draw(st.sampled_from(REVIEW_STATUSES)), draw(text), draw(text), draw(text)),
        audit=tuple(AuditEntry(draw(text), draw(text), draw(text), draw(text)) for _ in range(draw(st.integers(0, 4)))),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_round_trip_every_field(plan):
    back = loads(dumps(plan))
    assert back == plan
    assert plan_to_dict(back) == plan_to_dict(plan)


def _plan() -> Plan:
    return Plan(route="intra-articular", site=Site("knee", "", "right"), author="Dr A").with_trajectory(
        Trajectory("superolateral", (1, 2, 3), (4, 5, 6), Needle.parse("22G:89:quincke"))
    )


def test_save_is_atomic_with_one_backup(tmp_path):
    p = tmp_path / "a.plan.json"
    first = _plan()
    save_plan(p, first)
    assert load_plan(p) == first
    second = first.note("Dr A", "checked", "0 violations")
    save_plan(p, second)
    assert load_plan(p) == second
    assert load_plan(tmp_path / "a.plan.json.bak") == first
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.plan.json", "a.plan.json.bak"]  # no temp files left


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty"),
        (b'{"schema_version": 2, "route": "intra', "not valid JSON"),
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"[1, 2]", "not a plan"),
        (b'{"route": "intravenous"}', "schema_version"),
        (b'{"schema_version": 99, "route": "intravenous"}', "newer version"),
        (b'{"schema_version": 2, "route": "intravenous"}', "not a complete plan"),
        (b'{"schema_version": 2, "route": "by mail", "checklist": []}', "invalid plan"),
    ],
)
def test_bad_files_are_refused_and_left_untouched(tmp_path, content, words):
    p = tmp_path / "bad.plan.json"
    p.write_bytes(content)
    before = (p.read_bytes(), os.stat(p).st_mtime_ns)
    with pytest.raises(PlanFileError, match=words):
        load_plan(p)
    assert (p.read_bytes(), os.stat(p).st_mtime_ns) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.plan.json"]


def test_truncated_file_is_refused(tmp_path):
    p = tmp_path / "t.plan.json"
    save_plan(p, _plan())
    data = p.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 3):
        p.write_bytes(data[:cut])
        with pytest.raises(PlanFileError):
            load_plan(p)


def test_schema_1_is_migrated(tmp_path):
    v1 = {
        "schema_version": 1,
        "study_uid": "1.2.3",
        "series_uid": "1.2.3.4",
        "route": "intrathecal",
        "region": "lumbar",
        "level": "L3-L4",
        "side": "",
        "entry": [0.5, 80.0, 10.0],
        "target": [0.0, 30.0, 2.0],
        "needle": "22G:89:sprotte",
        "trajectory_name": "L3-L4 midline",
        "notes": "first try",
        "margins": {"artery": 4.0, "bone": 0.0},
        "checklist": {"1": "yes", "3": "N/A", "4": "no"},
        "author": "Dr B",
        "created": "2024-01-02T03:04:05+00:00",
        "status": "submitted",
        "reviewer": "Dr C",
        "review_comments": "looks fine",
        "log": ["2024-01-02T03:04:05+00:00 Dr B: created"],
    }
    p = tmp_path / "old.plan.json"
    p.write_text(json.dumps(v1))
    before = p.read_bytes()
    plan = load_plan(p)
    assert p.read_bytes() == before  # migration happens in memory
    assert plan.schema_version == SCHEMA_VERSION
    assert plan.route == "intrathecal" and plan.site == Site("lumbar", "L3-L4", "")
    (t,) = plan.trajectories
    assert t.name == "L3-L4 midline" and t.entry == (0.5, 80.0, 10.0) and t.target == (0.0, 30.0, 2.0)
    assert t.needle == Needle("22G", 89, "whitacre") and t.notes == "first try"
    m = {x.kind: x for x in plan.margins}
    assert m["artery"].margin_mm == 4.0 and m["artery"].grows_with_depth and m["artery"].name == ""
    assert m["bone"].must_not_enter
    answers = {c.number: c.answer for c in plan.checklist}
    assert answers[1] == "yes" and answers[3] == "n.a." and answers[4] == "no" and answers[2] == ""
    assert len(plan.checklist) == 10
    assert plan.review.status == "submitted" and plan.review.reviewer == "Dr C" and plan.review.comments == "looks fine"
    assert plan.audit[0].who == "Dr B" and plan.audit[0].detail == "created"
    assert plan.audit[-1].action == "migrated"
    # saved again it is a schema 2 file that loads to the same plan
    save_plan(p, plan)
    assert json.loads(p.read_text())["schema_version"] == 2
    assert load_plan(p) == plan


def test_checklist_blocks_approval_until_required_items_are_answered():
    plan = _plan()
    assert len(plan.checklist) == 10 and plan.checklist == default_checklist()
    with pytest.raises(ApprovalBlockedError, match="Medical history"):
        plan.approve("Dr R")
    for item in plan.checklist:
        if item.required:
            plan = plan.answer(item.number, "yes" if item.number != 6 else "n.a.", by="Nurse N")
    plan = plan.answer(4, "no", by="Nurse N")
    with pytest.raises(ApprovalBlockedError, match="Informed consent"):
        plan.approve("Dr R")
    plan = plan.answer(4, "yes", by="Nurse N")
    approved = plan.approve("Dr R", "fine")
    assert approved.review.status == "approved" and approved.review.reviewer == "Dr R"
    assert approved.checklist[0].by == "Nurse N" and approved.checklist[0].when
    with pytest.raises(PlanError):
        plan.answer(1, "maybe", by="x")
    with pytest.raises(PlanError):
        plan.answer(1, "yes", by=" ")


def test_audit_log_only_grows():
    plan = _plan()
    n = len(plan.audit)
    plan2 = plan.with_trajectory(Trajectory("superolateral", (1, 2, 4), (4, 5, 6), Needle())).reject("Dr R", "too steep")
    assert plan2.audit[:n] == plan.audit and len(plan2.audit) == n + 2
    assert plan2.audit[-1].action == "rejected" and plan2.review.status == "rejected"


def test_document_undo_redo_and_signal():
    doc = PlanDocument(_plan())
    seen = []
    doc.changed.connect(seen.append)
    p1 = doc.plan.with_trajectory(Trajectory("b", (0, 0, 0), (0, 0, 10), Needle()))
    doc.apply(p1, "add b")
    assert doc.plan == p1 and seen[-1] == p1 and doc.can_undo() and doc.undo_text() == "add b"
    doc.undo()
    assert [t.name for t in doc.plan.trajectories] == ["superolateral"]
    assert doc.plan.audit[-1].action == "undo" and len(doc.plan.audit) == len(p1.audit) + 1  # the log still grows
    assert doc.can_redo()
    doc.redo()
    assert [t.name for t in doc.plan.trajectories] == ["superolateral", "b"]
    assert len(seen) == 3
    with pytest.raises(PlanError):
        PlanDocument().redo()
    doc.replace(Plan())
    assert not doc.can_undo() and not doc.dirty


def test_invalid_values_are_refused():
    with pytest.raises(PlanError):
        Plan(route="oral")
    with pytest.raises(PlanError):
        Site("elbow")
    with pytest.raises(PlanError):
        Trajectory("x", (0, 0, float("nan")), (0, 0, 0))
    with pytest.raises(PlanError):
        Plan(trajectories=(Trajectory("a", (0, 0, 0), (1, 1, 1)), Trajectory("a", (0, 0, 0), (1, 1, 1))))
