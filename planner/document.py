"""The plan document: the current plan, undo/redo snapshots and a change signal (psygnal; no Qt)."""

from __future__ import annotations

import dataclasses

from psygnal import Signal

from planner.errors import PlanError
from planner.model import AuditEntry, Plan, now_iso

__all__ = ["PlanDocument"]


class PlanDocument:
    """Holds the current :class:`Plan`. ``changed`` is emitted with the new plan after every
    ``apply``, ``undo``, ``redo`` and ``replace``. Undo is a list of snapshots (plans are frozen); undo and redo restore a snapshot's content but
    keep the audit log growing (an "undo"/"redo" entry is appended, nothing is removed)."""

    changed = Signal(object)

    def __init__(self, plan: Plan | None = None, *, max_undo: int = 200) -> None:
        self._plan = plan if plan is not None else Plan()
        self._undo: list[tuple[Plan, str]] = []
        self._redo: list[tuple[Plan, str]] = []
        self._max_undo = int(max_undo)
        self.dirty = False

    @property
    def plan(self) -> Plan:
        return self._plan

    def apply(self, new_plan: Plan, description: str = "edit") -> None:
        """Make ``new_plan`` current; the previous plan becomes an undo step."""
        if not isinstance(new_plan, Plan):
            raise PlanError("Only a Plan can be applied to the document.")
        if new_plan == self._plan:
            return
        self._undo.append((self._plan, description))
        del self._undo[: max(0, len(self._undo) - self._max_undo)]
        self._redo.clear()
        self._set(new_plan)

    def replace(self, plan: Plan) -> None:
        """Start over with ``plan`` (e.g. after loading a file): history cleared."""
        self._undo.clear()
        self._redo.clear()
        self._set(plan)
        self.dirty = False

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1][1] if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1][1] if self._redo else ""

    def undo(self) -> None:
        if not self._undo:
            raise PlanError("Nothing to undo.")
        plan, desc = self._undo.pop()
        self._redo.append((self._plan, desc))
        self._set(self._keep_audit(plan, "undo", desc))

    def redo(self) -> None:
        if not self._redo:
            raise PlanError("Nothing to redo.")
        plan, desc = self._redo.pop()
        self._undo.append((self._plan, desc))
        self._set(self._keep_audit(plan, "redo", desc))

    def _keep_audit(self, plan: Plan, action: str, desc: str) -> Plan:
        """The snapshot's content with the current audit log plus one entry: the log only grows."""
        entry = AuditEntry(now_iso(), self._plan.author, action, desc)
        return dataclasses.replace(plan, audit=self._plan.audit + (entry,))

    def _set(self, plan: Plan) -> None:
        self._plan = plan
        self.dirty = True
        self.changed.emit(plan)
