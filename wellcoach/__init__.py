"""wellcoach: the core of the AI wellbeing coach backend.

Every rule, query and workflow lives in this package; the adapters (api, jobs,
cli, dashboard) only translate their input into calls to it.
"""

__version__ = "0.1.0"
