"""Crisis resources: per country, an emergency number and a crisis line, worded in each
supported language; and, for any other country or an unknown one, the local emergency
number and international directories of helplines.

Every crisis reply lists the resources `resources_for` returns, whether the offline
composer writes it or a model does (`wellcoach.llm.offline.crisis_reply`,
`wellcoach.llm.prompts`, and the pipeline's post-processing, which appends any the model
left out). The country is the user's (`users.country`), else the one their language
implies (`SafetySettings.default_country`: it → IT), else none: the fallback. An
operator can replace a country's list, or the fallback, with
`WELLCOACH_SAFETY__RESOURCES` (one wording for every language).

Only national numbers the services publish themselves are listed; when one changes,
change it here and in its test (tests/chat/test_crisis_resources.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wellcoach.config import EmergencyResource, SafetySettings

Kind = Literal["emergency", "crisis_line", "directory"]
# words in each supported language; a plain string reads the same in all of them
Text = str | Mapping[str, str]
FALLBACK = "fallback"


def _in(text: Text, language: str) -> str:
    if isinstance(text, str):
        return text
    return text.get(language) or text["en"]


@dataclass(frozen=True)
class Resource:
    """A resource as shipped: its words in every supported language."""

    kind: Kind
    name: Text
    contact: Text
    organisation: str = ""
    note: Text = field(default="")

    def worded(self, language: str) -> EmergencyResource:
        return EmergencyResource(
            kind=self.kind,
            name=_in(self.name, language),
            organisation=self.organisation,
            contact=_in(self.contact, language),
            note=_in(self.note, language),
        )


EMERGENCY_SERVICES = {"en": "Emergency services", "it": "Servizi di emergenza"}
SUPPORT_LINE = {"en": "Emotional support helpline", "it": "Linea di ascolto e supporto emotivo"}
FREE_24_7 = {"en": "free, 24/7", "it": "chiamata gratuita, 24 ore su 24"}
CALL_OR_TEXT = {"en": "call or text, 24/7", "it": "chiamata o SMS, 24 ore su 24"}


def _emergency(number: str, note: Text = "") -> Resource:
    return Resource("emergency", EMERGENCY_SERVICES, number, note=note)


SAMARITANS = Resource("crisis_line", SUPPORT_LINE, "116 123", "Samaritans", FREE_24_7)

COUNTRIES: dict[str, tuple[Resource, ...]] = {
    "IT": (
        Resource(
            "emergency",
            {
                "en": "Single emergency number (ambulance, police, fire)",
                "it": "Numero unico di emergenza (ambulanza, polizia, vigili del fuoco)",
            },
            "112",
        ),
        Resource("crisis_line", SUPPORT_LINE, "02 2327 2327", "Telefono Amico Italia"),
    ),
    "GB": (
        _emergency("999", {"en": "112 works too", "it": "funziona anche il 112"}),
        SAMARITANS,
    ),
    "IE": (
        _emergency("112", {"en": "999 works too", "it": "funziona anche il 999"}),
        SAMARITANS,
        Resource(
            "crisis_line",
            {
                "en": "Suicide and self-harm crisis helpline",
                "it": "Linea di crisi per suicidio e autolesionismo",
            },
            "1800 247 247",
            "Pieta",
            FREE_24_7,
        ),
    ),
    "US": (
        _emergency("911"),
        Resource(
            "crisis_line",
            {
                "en": "Suicide and crisis helpline",
                "it": "Linea di crisi e prevenzione del suicidio",
            },
            "988",
            "988 Suicide & Crisis Lifeline",
            CALL_OR_TEXT,
        ),
    ),
    "CA": (
        _emergency("911"),
        Resource(
            "crisis_line",
            {
                "en": "Suicide crisis helpline",
                "it": "Linea di crisi per la prevenzione del suicidio",
            },
            "988",
            "9-8-8 Suicide Crisis Helpline",
            CALL_OR_TEXT,
        ),
    ),
    "AU": (
        _emergency("000"),
        Resource(
            "crisis_line",
            {"en": "Crisis support line", "it": "Linea di supporto nelle crisi"},
            "13 11 14",
            "Lifeline",
            {"en": "24/7", "it": "24 ore su 24"},
        ),
    ),
    "DE": (
        _emergency("112"),
        Resource(
            "crisis_line",
            SUPPORT_LINE,
            "0800 111 0 111 / 0800 111 0 222",
            "TelefonSeelsorge",
            FREE_24_7,
        ),
    ),
    "FR": (
        _emergency(
            "112",
            {"en": "15 for SAMU, medical emergencies", "it": "15 per il SAMU, emergenze mediche"},
        ),
        Resource(
            "crisis_line",
            {
                "en": "National suicide prevention line",
                "it": "Numero nazionale di prevenzione del suicidio",
            },
            "3114",
            "numéro national de prévention du suicide",
            FREE_24_7,
        ),
    ),
    "ES": (
        _emergency("112"),
        Resource(
            "crisis_line",
            {
                "en": "Suicidal behaviour helpline",
                "it": "Linea di aiuto per il rischio di suicidio",
            },
            "024",
            "Línea de atención a la conducta suicida",
            FREE_24_7,
        ),
    ),
}

INTERNATIONAL: tuple[Resource, ...] = (
    Resource(
        "emergency",
        EMERGENCY_SERVICES,
        {"en": "your local emergency number", "it": "il numero di emergenza locale"},
        note={
            "en": "from a mobile phone, 112 works in most countries",
            "it": "dal cellulare, il 112 funziona nella maggior parte dei paesi",
        },
    ),
    Resource(
        "directory",
        {
            "en": "Free, confidential helplines in your country",
            "it": "Linee di aiuto gratuite e riservate nel tuo paese",
        },
        "https://findahelpline.com",
        "Find A Helpline",
    ),
    Resource(
        "directory",
        {"en": "Directory of crisis centres", "it": "Elenco dei centri di crisi"},
        "https://www.iasp.info/crisis-centres-helplines/",
        "International Association for Suicide Prevention",
    ),
)


def country_for(
    country: str | None, languages: Iterable[str | None], settings: SafetySettings
) -> str | None:
    """Whose resources a user gets: their country, else the one the first of
    `languages` (their profile's, then the turn's) implies; None for the fallback."""
    if country:
        return country.upper()
    for language in languages:
        implied = settings.default_country.get(language or "")
        if implied:
            return implied
    return None


def resources_for(
    settings: SafetySettings,
    *,
    country: str | None,
    language: str,
    languages: Iterable[str | None] = (),
) -> list[EmergencyResource]:
    """The crisis resources for the user's country (see `country_for`), worded in
    `language`: always an emergency number, and a crisis line or a directory of them."""
    code = country_for(country, [*languages, language], settings)
    if code not in COUNTRIES and code not in settings.resources:
        code = None
    overridden = settings.resources.get(code or FALLBACK)
    if overridden:
        return list(overridden)
    shipped = COUNTRIES[code] if code else INTERNATIONAL
    return [resource.worded(language) for resource in shipped]


def missing_from(text: str, resources: Iterable[EmergencyResource]) -> list[EmergencyResource]:
    """The resources whose contact `text` does not give (a model's crisis reply must
    give every one: the pipeline appends these)."""
    return [resource for resource in resources if resource.contact not in text]
