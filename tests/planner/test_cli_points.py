"""Points with a leading minus sign are read as values, not options."""

from __future__ import annotations

from planner.cli import join_point_values


def test_negative_points_are_joined_to_their_option() -> None:
    argv = ["plan", "F", "--entry", "-20.5,5,3", "--target", "-1e1,-2,-3", "--side", "left"]
    assert join_point_values(argv) == ["plan", "F", "--entry=-20.5,5,3", "--target=-1e1,-2,-3", "--side", "left"]
    assert join_point_values(["plan", "--entry", "auto"]) == ["plan", "--entry", "auto"]
    assert join_point_values(["plan", "--entry", "--target", "1,2,3"]) == ["plan", "--entry", "--target", "1,2,3"]
    assert join_point_values(["segment", "--vessel-seed", "-.5,0,0"]) == ["segment", "--vessel-seed=-.5,0,0"]
