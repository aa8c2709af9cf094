"""The views: slice views, the 3D scene."""
