"""Prefect flows: orchestration only. Each task loads, calls a pure transform or renderer, saves."""
