"""Plans on disk: ``.plan.json`` written atomically, read strictly, older schemas migrated.

- ``save_plan`` writes through :func:`imaging.files.atomic_write_text` with ``backup=True``
  (temporary file, fsync, rename; the previous file is kept as ``NAME.bak``).
- ``load_plan`` only reads: a corrupt, truncated or newer-schema file raises
  :class:`PlanFileError` with a message saying what to do; the file is never modified.
- Schema 1 (one trajectory at the top level, margins by kind, checklist as a dict of answers,
  status fields at the top, log as strings) is migrated to schema 2 (this module's layout).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from imaging.files import atomic_write_text
from planner.errors import PlanError
from planner.model import (
    SCHEMA_VERSION,
    AuditEntry,
    ChecklistItem,
    Needle,
    Plan,
    Review,
    Site,
    StructureMargin,
    Trajectory,
    default_checklist,
    now_iso,
)

__all__ = ["PlanFileError", "plan_to_dict", "plan_from_dict", "migrate", "save_plan", "load_plan", "dumps", "loads"]


class PlanFileError(PlanError):
    """A plan file cannot be read (damaged, truncated, newer schema, not a plan)."""


# -- plan <-> dict ---------------------------------------------------------------------------
def _needle(n: Needle) -> dict:
    return {"gauge": n.gauge, "length_mm": n.length_mm, "tip": n.tip}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON-able dictionary of a plan (schema :data:`SCHEMA_VERSION`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "format": "injection-planner plan",
        "disclaimer": "For planning, review and training; not a medical device.",
        "study_uid": plan.study_uid,
        "series_uid": plan.series_uid,
        "frame_of_reference_uid": plan.frame_of_reference_uid,
        "route": plan.route,
        "site": {"region": plan.site.region, "level": plan.site.level, "side": plan.site.side},
        "trajectories": [
            {
                "name": t.name,
                "entry": list(t.entry),
                "target": list(t.target),
                "needle": _needle(t.needle),
                "notes": t.notes,
                "target_structure": t.target_structure,
            }
            for t in plan.trajectories
        ],
        "margins": [
            {
                "name": m.name,
                "kind": m.kind,
                "margin_mm": m.margin_mm,
                "grows_with_depth": m.grows_with_depth,
                "must_not_enter": m.must_not_enter,
                "note": m.note,
            }
            for m in plan.margins
        ],
        "checklist": [
            {
                "number": c.number,
                "title": c.title,
                "detail": c.detail,
                "required": c.required,
                "answer": c.answer,
                "by": c.by,
                "when": c.when,
            }
            for c in plan.checklist
        ],
        "author": plan.author,
        "created": plan.created,
        "modified": plan.modified,
        "review": {"status": plan.review.status, "reviewer": plan.review.reviewer, "comments": plan.review.comments, "when": plan.review.when},
        "audit": [{"when": a.when, "who": a.who, "action": a.action, "detail": a.detail} for a in plan.audit],
    }


def plan_from_dict(data: dict[str, Any], *, source: str = "plan") -> Plan:
    """Build a plan from a schema-2 dictionary (use :func:`migrate` first for older ones)."""
    try:
        site = data.get("site") or {}
        review = data.get("review") or {}
        return Plan(
            route=str(data["route"]),
            site=Site(str(site.get("region", "")), str(site.get("level", "")), str(site.get("side", ""))),
            study_uid=str(data.get("study_uid", "")),
            series_uid=str(data.get("series_uid", "")),
            frame_of_reference_uid=str(data.get("frame_of_reference_uid", "")),
            trajectories=tuple(
                Trajectory(
                    name=str(t["name"]),
                    entry=tuple(t["entry"]),
                    target=tuple(t["target"]),
                    needle=Needle(str(t["needle"]["gauge"]), float(t["needle"]["length_mm"]), str(t["needle"]["tip"])),
                    notes=str(t.get("notes", "")),
                    target_structure=str(t.get("target_structure", "")),
                )
                for t in data.get("trajectories", [])
            ),
            margins=tuple(
                StructureMargin(
                    str(m["name"]),
                    str(m["kind"]),
                    float(m["margin_mm"]),
                    bool(m.get("grows_with_depth", False)),
                    bool(m.get("must_not_enter", False)),
                    str(m.get("note", "")),
                )
                for m in data.get("margins", [])
            ),
            checklist=tuple(
                ChecklistItem(
                    int(c["number"]),
                    str(c["title"]),
                    str(c.get("detail", "")),
                    bool(c.get("required", True)),
                    str(c.get("answer", "")),
                    str(c.get("by", "")),
                    str(c.get("when", "")),
                )
                for c in data["checklist"]
            ),
            author=str(data.get("author", "")),
            created=str(data.get("created", "")),
            modified=str(data.get("modified", "")),
            review=Review(str(review.get("status", "draft")), str(review.get("reviewer", "")), str(review.get("comments", "")), str(review.get("when", ""))),
            audit=tuple(AuditEntry(str(a["when"]), str(a["who"]), str(a["action"]), str(a.get("detail", ""))) for a in data.get("audit", [])),
        )
    except PlanError as exc:
        raise PlanFileError(f"{source} holds an invalid plan: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{source} is not a complete plan (missing or malformed field: {exc!s}); it may be damaged.") from exc


# -- migration -------------------------------------------------------------------------------
def _migrate_1_to_2(d: dict[str, Any]) -> dict[str, Any]:
    """Schema 1: one trajectory at the top level (``entry``, ``target``, ``needle`` as
    "22G:89:whitacre", ``trajectory_name``, ``notes``), ``region``/``level``/``side`` at the top,
    ``margins`` as {kind: mm}, ``checklist`` as {"1": "yes", ...}, ``status``/``reviewer``/
    ``review_comments`` at the top, ``log`` as a list of "WHEN WHO: text" strings."""
    from planner.margins import GROWING_KINDS, MUST_NOT_ENTER_KINDS

    out: dict[str, Any] = {
        "schema_version": 2,
        "study_uid": d.get("study_uid", ""),
        "series_uid": d.get("series_uid", ""),
        "frame_of_reference_uid": d.get("frame_of_reference_uid", ""),
        "route": d["route"],
        "site": {"region": d.get("region", ""), "level": d.get("level", ""), "side": d.get("side", "")},
        "author": d.get("author", ""),
        "created": d.get("created", ""),
        "modified": d.get("modified", d.get("created", "")),
    }
    trajs = []
    if d.get("entry") is not None and d.get("target") is not None:
        n = Needle.parse(d.get("needle", "22G:89:quincke"))
        trajs.append(
            {
                "name": d.get("trajectory_name") or "Trajectory 1",
                "entry": d["entry"],
                "target": d["target"],
                "needle": {"gauge": n.gauge, "length_mm": n.length_mm, "tip": n.tip},
                "notes": d.get("notes", ""),
                "target_structure": "",
            }
        )
    out["trajectories"] = trajs
    out["margins"] = [
        {
            "name": "",
            "kind": kind,
            "margin_mm": float(mm),
            "grows_with_depth": kind in GROWING_KINDS,
            "must_not_enter": kind in MUST_NOT_ENTER_KINDS,
            "note": "migrated from schema 1 (applies to every structure of this kind)",
        }
        for kind, mm in sorted((d.get("margins") or {}).items())
    ]
    answers = {str(k): v for k, v in (d.get("checklist") or {}).items()}
    items = []
    for it in default_checklist():
        a = answers.get(str(it.number), "")
        a = {"na": "n.a.", "n/a": "n.a.", "true": "yes", "false": "no"}.get(str(a).lower(), str(a).lower())
        items.append(
            {"number": it.number, "title": it.title, "detail": it.detail, "required": it.required, "answer": a,
             "by": d.get("author", "") if a else "", "when": d.get("modified", d.get("created", "")) if a else ""}
        )
    out["checklist"] = items
    out["review"] = {"status": d.get("status", "draft"), "reviewer": d.get("reviewer", ""), "comments": d.get("review_comments", ""), "when": ""}
    audit = []
    for line in d.get("log") or []:
        head, _, text = str(line).partition(": ")
        when, _, who = head.partition(" ")
        audit.append({"when": when, "who": who, "action": "note", "detail": text})
    audit.append({"when": now_iso(), "who": "injection-planner", "action": "migrated", "detail": "schema 1 -> 2"})
    out["audit"] = audit
    return out


_MIGRATIONS = {1: _migrate_1_to_2}


def migrate(data: dict[str, Any], *, source: str = "plan") -> dict[str, Any]:
    """Bring a plan dictionary of any older schema up to :data:`SCHEMA_VERSION`."""
    if not isinstance(data, dict):
        raise PlanFileError(f"{source} is not a plan (expected a JSON object).")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PlanFileError(f"{source} is not an Injection Planner plan (no valid schema_version).")
    if version > SCHEMA_VERSION:
        raise PlanFileError(
            f"{source} was written by a newer version of Injection Planner (plan schema {version}; this version reads up to "
            f"{SCHEMA_VERSION}). Update the program to open it; the file was not changed."
        )
    try:
        while version < SCHEMA_VERSION:
            data = _MIGRATIONS[version](data)
            version = data["schema_version"]
    except PlanError as exc:
        raise PlanFileError(f"{source} (schema {version}) cannot be migrated: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"{source} (schema {version}) is incomplete and cannot be migrated (field {exc!s}).") from exc
    return data


def dumps(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def loads(text: str, *, source: str = "plan") -> Plan:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanFileError(
            f"{source} is not valid JSON ({exc.args[0] if exc.args else exc}); it is damaged or was cut short. "
            "Open the backup (.bak) beside it, or restore it from another copy."
        ) from exc
    return plan_from_dict(migrate(data, source=source), source=source)


def save_plan(path: str | os.PathLike[str], plan: Plan) -> Path:
    """Write ``plan`` atomically; an existing file is kept as ``NAME.bak``."""
    return atomic_write_text(path, dumps(plan), backup=True)


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan (migrating older schemas in memory; the file is never written)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise PlanFileError(f"The plan file {path} does not exist.") from exc
    except OSError as exc:
        raise PlanFileError(f"Cannot read the plan file {path}: {exc.strerror or exc}.") from exc
    if not raw.strip():
        raise PlanFileError(f"The plan file {path} is empty; it was cut short. Open the backup ({path.name}.bak) if there is one.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"The plan file {path} is not UTF-8 text; it is damaged or not a plan.") from exc
    return loads(text, source=f"The plan file {path}")
