"""What the API says to people, in their language (en, it).

Codes are the contract and stay English; `message` is for the person reading it. The
language is the signed-in user's (their profile), else the first of en and it that
the request's Accept-Language asks for, else English. The core raises its messages in
English; they are translated here, at the edge, like their HTTP status: by their exact
text when the catalogue knows it, else by a template for messages that carry a value,
else by their code, so an Italian user never reads English.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Request

from wellcoach.accounts.countries import accept_language_tags

LANGUAGES = ("en", "it")
DEFAULT = "en"

# English text -> Italian, for every fixed message the API says
ITALIAN: dict[str, str] = {
    # answers that are not errors
    "If the address can be used, we have sent an email with the next step.": (
        "Se l'indirizzo è utilizzabile, ti abbiamo inviato un'email con il prossimo passo."
    ),
    "Your email address is verified.": "Il tuo indirizzo email è verificato.",
    "Your password was changed.": "La tua password è stata cambiata.",
    # errors
    "The request is not valid.": "La richiesta non è valida.",
    "Too many attempts; try again later.": "Troppi tentativi; riprova più tardi.",
    "The password must not be your email address.": (
        "La password non può essere il tuo indirizzo email."
    ),
    "This password is too common; choose a less predictable one.": (
        "Questa password è troppo comune; scegline una meno prevedibile."
    ),
    "An account with this email already exists.": "Esiste già un account con questa email.",
    "Using wellcoach needs your consent to data processing.": (
        "Per usare wellcoach serve il tuo consenso al trattamento dei dati."
    ),
    "The current password is wrong.": "La password attuale è sbagliata.",
    "The new password must differ from the current one.": (
        "La nuova password deve essere diversa da quella attuale."
    ),
    "Two-factor authentication is already enabled.": (
        "L'autenticazione a due fattori è già attiva."
    ),
    "Start the enrollment first.": "Prima avvia l'attivazione.",
    "Two-factor authentication is not enabled.": "L'autenticazione a due fattori non è attiva.",
    "The password is wrong.": "La password è sbagliata.",
    "This session was signed out; log in again.": (
        "Questa sessione è stata chiusa; accedi di nuovo."
    ),
    "The search query is empty.": "La ricerca è vuota.",
    "No such chat session.": "Questa conversazione non esiste.",
    "Chatting with the coach needs your consent to data processing.": (
        "Per parlare con il coach serve il tuo consenso al trattamento dei dati."
    ),
    "Send a mood, a stress level, or both.": "Indica l'umore, il livello di stress o entrambi.",
    "This chat session has ended; start a new one.": (
        "Questa conversazione è chiusa; iniziane una nuova."
    ),
    "No such message.": "Questo messaggio non esiste.",
    "No such user.": "Questo utente non esiste.",
    "Health data sync needs your consent to health data processing first.": (
        "Per sincronizzare i dati di salute serve prima il tuo consenso al loro trattamento."
    ),
    "The token is of another account.": "Il token è di un altro account.",
    "Send `Authorization: Bearer <access token>`.": (
        "Invia `Authorization: Bearer <access token>`."
    ),
}

# messages that carry a value: (English pattern, Italian template)
ITALIAN_TEMPLATES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"Use at least (\d+) characters\."),
        lambda m: f"Usa almeno {m[1]} caratteri.",
    ),
    (re.compile(r"Use at most (\d+) characters\."), lambda m: f"Usa al massimo {m[1]} caratteri."),
    (
        re.compile(r"(.+); retry after the number of seconds in Retry-After\."),
        lambda m: (
            "Il servizio non può rispondere ora; riprova dopo i secondi indicati in Retry-After."
        ),
    ),
]

# by code, for any other message: what the code means, said in Italian
ITALIAN_BY_CODE: dict[str, str] = {
    "account_disabled": "Questo account è disattivato.",
    "bad_request": "La richiesta non è valida.",
    "coach_at_capacity": "Questo coach ha già il massimo di casi aperti.",
    "coach_exists": "Questo account è già registrato come coach.",
    "conflict": "La richiesta è in conflitto con lo stato attuale.",
    "consent_required": "Per questo serve prima il tuo consenso.",
    "crypto_error": "I dati non si possono decifrare.",
    "email_not_verified": "Prima verifica il tuo indirizzo email.",
    "forbidden": "Non hai il permesso di farlo.",
    "illegal_transition": "Questa richiesta non può passare a quello stato adesso.",
    "http_error": "La richiesta non è valida.",
    "internal_error": "Si è verificato un errore interno; riprova più tardi.",
    "invalid_availability": "Gli orari di disponibilità non sono validi.",
    "invalid_credentials": "L'email o la password sono sbagliate.",
    "invalid_date": "La data non è valida: usa AAAA-MM-GG.",
    "invalid_period": "Il periodo non è valido: l'inizio deve precedere la fine.",
    "invalid_input": "La richiesta non è valida.",
    "invalid_kb": "La base di conoscenza non è valida.",
    "invalid_kb_document": "Un documento della base di conoscenza non è valido.",
    "invalid_or_expired_token": "Il link non è valido, è scaduto o è già stato usato.",
    "invalid_token": "Il token manca, non è valido, è scaduto o è stato revocato.",
    "invalid_totp": "Il codice a due fattori è sbagliato o è già stato usato.",
    "key_shredded": "I dati di questo account sono stati cancellati.",
    "master_key_missing": "La chiave principale della piattaforma non è configurata.",
    "method_not_allowed": "Questo metodo non è ammesso qui.",
    "not_a_coach": "Questo account non ha il ruolo di coach.",
    "not_found": "La risorsa non esiste o non è visibile per te.",
    "payload_too_large": "La richiesta è troppo grande.",
    "prices_invalid": "Il listino prezzi non è valido.",
    "queue_unavailable": "La coda dei lavori non è raggiungibile; riprova più tardi.",
    "rate_limited": "Troppe richieste; riprova più tardi.",
    "reply_unavailable": "La risposta non è disponibile ora; riprova più tardi.",
    "server_busy": "Il servizio è occupato; riprova dopo i secondi indicati in Retry-After.",
    "service_unavailable": (
        "Un servizio da cui dipende la piattaforma non risponde; riprova dopo i secondi"
        " indicati in Retry-After."
    ),
    "temporarily_unavailable": "Il servizio non è disponibile ora; riprova più tardi.",
    "token_reused": (
        "Un token di rinnovo è stato usato due volte: tutte le sessioni collegate sono state"
        " chiuse. Accedi di nuovo."
    ),
    "totp_required": "Questo account usa l'autenticazione a due fattori: invia anche `totp_code`.",
    "unauthorized": "Serve l'autenticazione, oppure non è riuscita.",
    "unknown_format": "Il formato richiesto non esiste.",
    "unknown_grouping": "Il raggruppamento richiesto non esiste.",
    "unsupported_media_type": "Il tipo di contenuto non è supportato.",
    "validation_error": "La richiesta non è valida.",
    "weak_password": "La password non rispetta le regole.",
    "webhook_data_refused": "I dati di questo evento non possono essere inviati a un webhook.",
    "influx_misconfigured": "L'archivio dei dati di salute non è configurato correttamente.",
    "invalid_health_export": "Il file non è un'esportazione di Salute di Apple.",
    "invalid_health_metrics": "Alcune misure non sono valide: non è stato salvato nulla.",
    "export_link_expired": "Questo link di download è scaduto: richiedi una nuova esportazione.",
    "export_link_invalid": "Questo link di download non è valido.",
}


def negotiate(accept_language: str | None) -> str | None:
    """The first of the supported languages the header asks for, by its q-values."""
    for tag in accept_language_tags(accept_language):
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return None


def language_of(request: Request) -> str:
    """The signed-in user's language (set by the authentication dependency), else the
    request's Accept-Language, else English."""
    known = getattr(request.state, "language", None)
    if known in LANGUAGES:
        return str(known)
    return negotiate(request.headers.get("accept-language")) or DEFAULT


def say(message: str, language: str, code: str | None = None) -> str:
    """`message` (English, as the core wrote it) in `language`."""
    if language != "it":
        return message
    if message in ITALIAN:
        return ITALIAN[message]
    for pattern, template in ITALIAN_TEMPLATES:
        match = pattern.fullmatch(message)
        if match:
            return template(match)
    if code is not None and code in ITALIAN_BY_CODE:
        return ITALIAN_BY_CODE[code]
    return message


def localized(request: Request, message: str, code: str | None = None) -> str:
    return say(message, language_of(request), code)
