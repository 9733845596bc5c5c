"""Configuration: YAML validated into typed objects (see :mod:`config.models`)."""

from config.loader import ConfigError, load_workspace
from config.models import Settings, Workspace

__all__ = ["ConfigError", "Settings", "Workspace", "load_workspace"]
