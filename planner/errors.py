"""Typed errors of the planning layer."""


class PlanError(Exception):
    """Base class of every error the planning layer raises on purpose."""
