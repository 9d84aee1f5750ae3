"""Account errors with stable codes the apps can act on."""

from wellcoach.errors import Forbidden


class ConsentRequired(Forbidden):
    """This needs your consent first."""

    code = "consent_required"
