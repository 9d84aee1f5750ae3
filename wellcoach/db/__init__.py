"""Database access: the engine, the unit of work and the declarative base."""

from wellcoach.db.base import Base
from wellcoach.db.session import Database, unit_of_work

__all__ = ["Base", "Database", "unit_of_work"]
