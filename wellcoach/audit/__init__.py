"""The audit trail: who did what to whose data, from where."""

from wellcoach.audit.service import RequestContext, record

__all__ = ["RequestContext", "record"]
