"""Email goes through the outbox table first, committed with the change that caused it.

A job delivers pending rows over SMTP when `WELLCOACH_SMTP_URL` is set; without
it the outbox is the development mailbox (`wellcoach mail outbox`). Nothing is
lost when the SMTP server is down: the row stays pending and is retried.
"""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlparse

from sqlalchemy.ext.asyncio import AsyncSession

from wellcoach.audit import RequestContext
from wellcoach.audit.service import record_each
from wellcoach.db.base import utcnow
from wellcoach.models import EmailOutbox
from wellcoach.models.enums import DeliveryStatus
from wellcoach.notify import repository

SENDER = "wellcoach <no-reply@wellcoach.app>"
MAX_ATTEMPTS = 8
# emails whose body holds a live one-time token (a sign-in secret): the outbox keeps it
# only until it is sent, or, as the development mailbox, until the token has expired
WITH_SECRETS = ("verify_email", "reset_password", "erasure_scheduled")
SECRET_LIFETIME = timedelta(hours=48)  # the longest one-time token (email verification)
FORGOTTEN = "(The body was removed: it held a one-time link, sent or expired.)"

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "erasure_scheduled": {
        "en": (
            "Your wellcoach account will be deleted",
            "Hi {name},\n\nYour account is closed, and all its data will be deleted for good"
            " on {date}. If you did not ask for this, or changed your mind, keep your account"
            " with this link before then:\n{link}\n\nOr paste this code in the app: {token}",
        ),
        "it": (
            "Il tuo account wellcoach sarà eliminato",
            "Ciao {name},\n\nIl tuo account è chiuso e tutti i suoi dati saranno eliminati"
            " definitivamente il {date}. Se non l'hai chiesto tu, o hai cambiato idea, tieni"
            " l'account con questo link prima di allora:\n{link}\n\nOppure incolla questo"
            " codice nell'app: {token}",
        ),
    },
    "verify_email": {
        "en": (
            "Confirm your email for wellcoach",
            "Hi {name},\n\nConfirm your email address to start chatting with your coach:\n"
            "{link}\n\nOr paste this code in the app: {token}\n\n"
            "The link is valid for 48 hours. If you did not sign up, ignore this email.",
        ),
        "it": (
            "Conferma la tua email per wellcoach",
            "Ciao {name},\n\nConferma il tuo indirizzo email per iniziare a parlare con il tuo "
            "coach:\n{link}\n\nOppure incolla questo codice nell'app: {token}\n\n"
            "Il link è valido per 48 ore. Se non ti sei registrato, ignora questa email.",
        ),
    },
    "reset_password": {
        "en": (
            "Reset your wellcoach password",
            "Hi {name},\n\nUse this link within 30 minutes to choose a new password:\n{link}\n\n"
            "Or paste this code in the app: {token}\n\n"
            "If you did not ask for this, ignore this email: your password stays the same.",
        ),
        "it": (
            "Reimposta la password di wellcoach",
            "Ciao {name},\n\nUsa questo link entro 30 minuti per scegliere una nuova password:\n"
            "{link}\n\nOppure incolla questo codice nell'app: {token}\n\n"
            "Se non l'hai chiesto tu, ignora questa email: la password resta invariata.",
        ),
    },
    "already_registered": {
        "en": (
            "You already have a wellcoach account",
            "Hi,\n\nSomeone (maybe you) tried to sign up with this address, which already has "
            "an account. To get in, log in or reset your password in the app.",
        ),
        "it": (
            "Hai già un account wellcoach",
            "Ciao,\n\nQualcuno (forse tu) ha provato a registrarsi con questo indirizzo, che ha "
            "già un account. Per entrare, accedi o reimposta la password dall'app.",
        ),
    },
    "escalation_update": {
        "en": (
            "wellcoach: a {urgency} escalation {what}",
            "Hi {name},\n\nA {urgency} escalation (priority {priority}) {what}. Its response"
            " is due by {due} UTC.\n\nOpen the dashboard's Escalations page to read it"
            " (escalation {escalation_id}). This email carries no personal details on purpose.",
        ),
        "it": (
            "wellcoach: una richiesta {urgency} {what_it}",
            "Ciao {name},\n\nUna richiesta di livello {urgency} (priorità {priority})"
            " {what_it}. La risposta è attesa entro le {due} UTC.\n\nApri la pagina"
            " Escalations della dashboard per leggerla (richiesta {escalation_id}). Questa"
            " email di proposito non contiene dati personali.",
        ),
    },
    "budget_alert": {
        "en": (
            "wellcoach budget alert: {what} at {percent}% of its budget",
            "Hi {name},\n\n{what} has spent ${spent} of its ${budget} budget for the period"
            " starting {period} ({percent}%).\n\nAt 100% the router answers with the tier's"
            " cheapest model, and beyond that with the offline composer, so users keep"
            " getting replies. See `wellcoach costs report` or the dashboard's Finance page.",
        ),
    },
    "password_changed": {
        "en": (
            "Your wellcoach password was changed",
            "Hi {name},\n\nYour password was just changed and every other session was signed "
            "out. If this was not you, reset your password now and contact support.",
        ),
        "it": (
            "La tua password di wellcoach è stata cambiata",
            "Ciao {name},\n\nLa tua password è appena stata cambiata e tutte le altre sessioni "
            "sono state chiuse. Se non sei stato tu, reimpostala subito e contatta il supporto.",
        ),
    },
}


async def queue_email(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    language: str = "en",
    user_id: uuid.UUID | None = None,
    **values: str,
) -> EmailOutbox:
    subject, body = TEMPLATES[template].get(language) or TEMPLATES[template]["en"]
    values.setdefault("name", "")
    row = EmailOutbox(
        user_id=user_id,
        to_address=to,
        template=template,
        subject=subject.format(**values),
        body=body.format(**values).replace("Hi ,", "Hi,").replace("Ciao ,", "Ciao,"),
    )
    session.add(row)
    await session.flush()
    return row


async def list_outbox(
    session: AsyncSession,
    *,
    to: str | None = None,
    limit: int = 20,
    context: RequestContext | None = None,
) -> list[EmailOutbox]:
    """The newest emails. An adapter that shows them to someone (addresses, bodies) passes
    its `context`: each recipient's trail then gets an `email.viewed` entry."""
    rows = await repository.latest_emails(session, to=to, limit=limit)
    if context is not None:
        await record_each(
            session,
            "email.viewed",
            [row.user_id for row in rows if row.user_id is not None],
            context=context,
            resource_type="email_outbox",
            details={"emails_shown": len(rows)},
        )
    return rows


async def deliver_pending(session: AsyncSession, smtp_url: str, batch: int = 50) -> dict[str, int]:
    """Send pending emails over SMTP; failures stay pending until MAX_ATTEMPTS."""
    rows = await repository.lock_pending(session, batch)
    sent = failed = 0
    for row in rows:
        row.attempts += 1
        try:
            await asyncio.to_thread(_send, smtp_url, row.to_address, row.subject, row.body)
        except (OSError, smtplib.SMTPException) as exc:
            row.last_error = type(exc).__name__
            if row.attempts >= MAX_ATTEMPTS:
                row.status = DeliveryStatus.failed
            failed += 1
            continue
        row.status = DeliveryStatus.sent
        row.sent_at = utcnow()
        if row.template in WITH_SECRETS:
            row.body = FORGOTTEN
        sent += 1
    await session.flush()
    return {"sent": sent, "failed": failed}


async def forget_secrets(session: AsyncSession, now: datetime | None = None) -> int:
    """Drop the bodies of token-bearing emails once their token has expired, delivered or
    not (the development mailbox keeps them until then); returns how many."""
    cutoff = (now or utcnow()) - SECRET_LIFETIME
    return await repository.forget_bodies(session, WITH_SECRETS, cutoff, FORGOTTEN)


def _send(smtp_url: str, to: str, subject: str, body: str) -> None:
    url = urlparse(smtp_url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, to, subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with smtp_class(url.hostname or "localhost", url.port or 25, timeout=10) as smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)
