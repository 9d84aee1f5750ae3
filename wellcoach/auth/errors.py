"""Authentication errors with stable codes the apps can act on."""

from wellcoach.errors import Forbidden, InvalidInput, Unauthorized


class InvalidCredentials(Unauthorized):
    """The email or password is wrong."""

    code = "invalid_credentials"
    keep_changes = True


class TotpRequired(Unauthorized):
    """This account uses two-factor authentication: send `totp_code` too."""

    code = "totp_required"
    keep_changes = True


class InvalidTotp(Unauthorized):
    """The two-factor code is wrong or was already used."""

    code = "invalid_totp"
    keep_changes = True


class InvalidToken(Unauthorized):
    """The token is missing, malformed, expired, revoked or not for this use."""

    code = "invalid_token"


class TokenReused(Unauthorized):
    """A refresh token was used twice: every session of its family is revoked."""

    code = "token_reused"
    keep_changes = True


class AccountDisabled(Forbidden):
    """This account is disabled."""

    code = "account_disabled"
    keep_changes = True


class EmailNotVerified(Forbidden):
    """Verify your email address first."""

    code = "email_not_verified"


class InvalidOneTimeToken(InvalidInput):
    """The link is invalid, expired or was already used."""

    code = "invalid_or_expired_token"
