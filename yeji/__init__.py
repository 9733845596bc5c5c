"""Yeji (业绩): performance reviews and commission statements for cross-border sales teams."""

__version__ = "0.1.0"
