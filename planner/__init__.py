"""Planning layer: plan model, needle geometry, safety, export. Imports neither Qt nor VTK."""

__version__ = "0.1.0"
