"""The plan as data: frozen dataclasses, equal after a JSON round trip (see ``planner.io.plan_json``).

An edit makes a new :class:`Plan`; every edit made through the helpers here appends an
:class:`AuditEntry` (the log is append-only: helpers never drop or rewrite entries).
For planning, review and training; not a medical device.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from planner import needles
from planner.errors import PlanError

__all__ = [
    "SCHEMA_VERSION",
    "ROUTES",
    "REGIONS",
    "SIDES",
    "REVIEW_STATUSES",
    "ANSWERS",
    "Point",
    "Needle",
    "Trajectory",
    "Site",
    "StructureMargin",
    "ChecklistItem",
    "Review",
    "AuditEntry",
    "Plan",
    "default_checklist",
    "now_iso",
    "ApprovalBlockedError",
]

SCHEMA_VERSION = 2
ROUTES = ("intrathecal", "intra-articular", "intravenous")
REGIONS = ("", "lumbar", "knee", "shoulder", "hip")
SIDES = ("", "left", "right")
REVIEW_STATUSES = ("draft", "submitted", "approved", "rejected")
ANSWERS = ("", "yes", "no", "n.a.")  # "" = not answered yet

Point = tuple[float, float, float]


class ApprovalBlockedError(PlanError):
    """A plan cannot be approved while a required checklist item is open."""


def now_iso() -> str:
    """Current UTC time, ISO 8601 with seconds (what the audit log and timestamps hold)."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _point(p: Iterable[float], what: str) -> Point:
    try:
        x, y, z = (float(v) for v in p)
    except (TypeError, ValueError) as exc:
        raise PlanError(f"The {what} must be three numbers (LPS mm); got {p!r}.") from exc
    for v in (x, y, z):
        if v != v or v in (float("inf"), float("-inf")):
            raise PlanError(f"The {what} {p!r} is not a finite point.")
    return (x, y, z)


@dataclass(frozen=True)
class Needle:
    """A needle: gauge ("22G"), length in mm, tip type (quincke, whitacre, tuohy, chiba)."""

    gauge: str = "22G"
    length_mm: float = 89.0
    tip: str = "quincke"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gauge", needles.normalise_gauge(self.gauge))
        object.__setattr__(self, "tip", needles.normalise_tip(self.tip))
        object.__setattr__(self, "length_mm", float(self.length_mm))
        if not (5.0 <= self.length_mm <= 300.0):
            raise PlanError(f"Needle length {self.length_mm:g} mm is outside 5-300 mm.")

    @classmethod
    def parse(cls, spec: str) -> Needle:
        """``Needle.parse("22G:89:whitacre")``."""
        return cls(*needles.parse_needle_spec(spec))

    @property
    def outer_diameter_mm(self) -> float:
        return needles.outer_diameter_mm(self.gauge)

    @property
    def radius_mm(self) -> float:
        return self.outer_diameter_mm / 2.0

    def spec(self) -> str:
        return f"{self.gauge}:{self.length_mm:g}:{self.tip}"

    def describe(self) -> str:
        return f"{self.gauge} {self.length_mm:g} mm {needles.TIP_NAMES[self.tip]}"


@dataclass(frozen=True)
class Trajectory:
    """One straight needle path: skin ``entry`` to ``target`` (the tip), LPS mm."""

    name: str
    entry: Point
    target: Point
    needle: Needle = field(default_factory=Needle)
    notes: str = ""
    target_structure: str = ""  # name of the label the tip should sit in ("" = any target label)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entry", _point(self.entry, f"entry of {self.name!r}"))
        object.__setattr__(self, "target", _point(self.target, f"target of {self.name!r}"))
        if not self.name.strip():
            raise PlanError("A trajectory needs a name.")

    @property
    def length_mm(self) -> float:
        return float(sum((a - b) ** 2 for a, b in zip(self.entry, self.target, strict=True)) ** 0.5)


@dataclass(frozen=True)
class Site:
    """Where: ``region`` (lumbar, knee, shoulder, hip), lumbar ``level`` ("L4-L5"), ``side``."""

    region: str = ""
    level: str = ""
    side: str = ""

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise PlanError(f"Unknown site {self.region!r}; choose one of {', '.join(r for r in REGIONS if r)}.")
        if self.side not in SIDES:
            raise PlanError(f"Unknown side {self.side!r}; choose left or right.")

    def describe(self) -> str:
        parts = [self.side, self.region, self.level]
        return " ".join(p for p in parts if p) or "(no site)"


@dataclass(frozen=True)
class StructureMargin:
    """The clearance a structure needs from the needle's surface, and whether it grows with depth."""

    name: str
    kind: str
    margin_mm: float
    grows_with_depth: bool = False
    must_not_enter: bool = False  # bone, disc: the shaft must not cross it
    note: str = ""


@dataclass(frozen=True)
class ChecklistItem:
    """One pre-procedure safety item, answered yes / no / n.a. ("" = open) with who and when."""

    number: int
    title: str
    detail: str = ""
    required: bool = True
    answer: str = ""
    by: str = ""
    when: str = ""

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise PlanError(f"Checklist item {self.number}: answer must be yes, no or n.a.; got {self.answer!r}.")

    @property
    def is_open(self) -> bool:
        """Required and not answered yes or n.a."""
        return self.required and self.answer not in ("yes", "n.a.")


_CHECKLIST = (
    ("Medical history reviewed", "Chronic conditions, surgery, medications (anticoagulants), allergies."),
    ("Laboratory work reviewed", "Infection and inflammation markers, immune markers; coagulation (platelets, INR) for spinal routes."),
    ("Imaging reviewed", "The CT/MR study this plan was made on, with its date."),
    ("Informed consent", "Purpose, expected benefits, risks and side effects, limitations and what is still under research explained; written consent signed."),
    ("Facility", "Licensed/accredited; emergency equipment at hand (epinephrine, oxygen, IV fluids); staff trained in basic and advanced life support."),
    ("Cell product", "Source (autologous or allogeneic); donor screening and matching for allogeneic; GMP processing; batch release tests passed (sterility, viability, identity/purity); lot number recorded."),
    ("Route and guidance", "Route (IV, intra-articular, intrathecal) and guidance modality (ultrasound, fluoroscopy, CT, MRI) recorded; operator named."),
    ("Monitoring", "Vital signs (blood pressure, heart rate, oxygen saturation, temperature) during and after; observation period; anaphylaxis plan."),
    ("Infection control", "Skin antisepsis, sterile technique, sterile dressing."),
    ("Follow-up", "Scheduled visits (days, weeks, months), blood work and imaging updates, pain and function scores."),
)
# Follow-up is recorded but does not block approval (it is scheduled after the procedure).
_REQUIRED = {1, 2, 3, 4, 5, 6, 7, 8, 9}


def default_checklist() -> tuple[ChecklistItem, ...]:
    """The 10-item pre-procedure checklist of CLINICAL.md, all open."""
    return tuple(
        ChecklistItem(i + 1, title, detail, required=(i + 1) in _REQUIRED) for i, (title, detail) in enumerate(_CHECKLIST)
    )


@dataclass(frozen=True)
class Review:
    """Review status (draft, submitted, approved, rejected), reviewer, comments, when."""

    status: str = "draft"
    reviewer: str = ""
    comments: str = ""
    when: str = ""

    def __post_init__(self) -> None:
        if self.status not in REVIEW_STATUSES:
            raise PlanError(f"Unknown review status {self.status!r}; expected one of {', '.join(REVIEW_STATUSES)}.")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: when, who, what, and details."""

    when: str
    who: str
    action: str
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """An injection plan. Frozen: every edit returns a new plan (helpers append to the audit log)."""

    route: str = "intra-articular"
    site: Site = field(default_factory=Site)
    study_uid: str = ""
    series_uid: str = ""
    frame_of_reference_uid: str = ""
    trajectories: tuple[Trajectory, ...] = ()
    margins: tuple[StructureMargin, ...] = ()
    checklist: tuple[ChecklistItem, ...] = field(default_factory=default_checklist)
    author: str = ""
    created: str = ""
    modified: str = ""
    review: Review = field(default_factory=Review)
    audit: tuple[AuditEntry, ...] = ()
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise PlanError(f"Unknown route {self.route!r}; choose one of {', '.join(ROUTES)}.")
        names = [t.name for t in self.trajectories]
        if len(set(names)) != len(names):
            raise PlanError("Two trajectories have the same name; give each its own.")
        for tup in ("trajectories", "margins", "checklist", "audit"):
            object.__setattr__(self, tup, tuple(getattr(self, tup)))

    # -- edits (each returns a new plan with an audit entry) ----------------------------------
    def _edited(self, who: str, action: str, detail: str = "", **changes: object) -> Plan:
        when = now_iso()
        entry = AuditEntry(when, who or self.author, action, detail)
        return dataclasses.replace(self, modified=when, audit=self.audit + (entry,), **changes)  # type: ignore[arg-type]

    def trajectory(self, name: str) -> Trajectory:
        for t in self.trajectories:
            if t.name == name:
                return t
        raise PlanError(f"The plan has no trajectory called {name!r}.")

    def with_trajectory(self, trajectory: Trajectory, who: str = "") -> Plan:
        """Add ``trajectory`` or replace the one with the same name."""
        existing = [t.name for t in self.trajectories]
        if trajectory.name in existing:
            trajs = tuple(trajectory if t.name == trajectory.name else t for t in self.trajectories)
            action = "trajectory changed"
        else:
            trajs = self.trajectories + (trajectory,)
            action = "trajectory added"
        detail = f"{trajectory.name}: entry {_fmt(trajectory.entry)}, target {_fmt(trajectory.target)}, {trajectory.needle.spec()}"
        return self._edited(who, action, detail, trajectories=trajs)

    def without_trajectory(self, name: str, who: str = "") -> Plan:
        self.trajectory(name)
        return self._edited(who, "trajectory removed", name, trajectories=tuple(t for t in self.trajectories if t.name != name))

    def with_margin(self, margin: StructureMargin, who: str = "") -> Plan:
        others = tuple(m for m in self.margins if m.name != margin.name)
        return self._edited(who, "margin set", f"{margin.name} ({margin.kind}): {margin.margin_mm:g} mm", margins=others + (margin,))

    def answer(self, number: int, answer: str, by: str, when: str | None = None) -> Plan:
        """Answer checklist item ``number`` (yes / no / n.a.)."""
        items = list(self.checklist)
        idx = next((i for i, it in enumerate(items) if it.number == number), None)
        if idx is None:
            raise PlanError(f"The checklist has no item {number}.")
        if not by.strip():
            raise PlanError(f"Checklist item {number}: say who answered it.")
        items[idx] = dataclasses.replace(items[idx], answer=answer, by=by, when=when or now_iso())
        return self._edited(by, "checklist answered", f"{number}. {items[idx].title}: {answer}", checklist=tuple(items))

    def open_items(self) -> tuple[ChecklistItem, ...]:
        return tuple(it for it in self.checklist if it.is_open)

    def submit(self, who: str) -> Plan:
        return self._edited(who, "submitted for review", "", review=Review("submitted", "", "", now_iso()))

    def approve(self, reviewer: str, comments: str = "") -> Plan:
        """Mark approved; raises :class:`ApprovalBlockedError` while a required item is open."""
        open_ = self.open_items()
        if open_:
            listing = "; ".join(f"{it.number}. {it.title} ({it.answer or 'not answered'})" for it in open_)
            raise ApprovalBlockedError(f"The plan cannot be approved while required checklist items are open: {listing}.")
        if not self.trajectories and self.route != "intravenous":
            raise ApprovalBlockedError("The plan has no trajectory to approve.")
        return self._edited(reviewer, "approved", comments, review=Review("approved", reviewer, comments, now_iso()))

    def reject(self, reviewer: str, comments: str) -> Plan:
        if not comments.strip():
            raise PlanError("Say why the plan is rejected (comments).")
        return self._edited(reviewer, "rejected", comments, review=Review("rejected", reviewer, comments, now_iso()))

    def note(self, who: str, action: str, detail: str = "") -> Plan:
        """Append a free audit entry (e.g. "saved", "checked: 0 violations")."""
        return self._edited(who, action, detail)


def _fmt(p: Point) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in p) + ")"
