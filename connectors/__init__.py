"""Connectors: read a team's spreadsheets (and, later, store APIs) into warehouse-shaped frames."""
