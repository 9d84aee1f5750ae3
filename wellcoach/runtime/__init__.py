"""Embedded services: PostgreSQL + pgvector and Valkey, started from PyPI wheels.

Used when no external URL is configured, so the platform runs with nothing
installed but Python packages.
"""
