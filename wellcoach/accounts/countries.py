"""Countries (ISO 3166-1 alpha-2) and locales (BCP 47 tags like `en-US`, `it_IT`).

A user's country picks the crisis resources they are shown (`wellcoach.chat.safety.
resources`), so it is one of the 249 officially assigned codes, nothing else: the list is
written here (pycountry and babel are not dependencies; it matches tzdata's iso3166.tab,
which tests/accounts/test_country.py checks when the file is there). At sign-up, a
missing country is read from the region of the app's locale or of the Accept-Language
header; a tag without a real region (`en`, `es-419`) gives none.
"""

from __future__ import annotations

import re

COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()
)


def _case_insensitive_pattern(codes: frozenset[str]) -> str:
    """One JSON-Schema regex (no inline flags there) matching exactly `codes`, in either
    case: the OpenAPI document then says which values the API accepts, and no others."""
    by_first: dict[str, list[str]] = {}
    for code in sorted(codes):
        by_first.setdefault(code[0], []).append(code[1])
    groups = [
        f"[{first}{first.lower()}][{''.join(seconds)}{''.join(seconds).lower()}]"
        for first, seconds in by_first.items()
    ]
    return "^(?:" + "|".join(groups) + ")$"


COUNTRY_PATTERN = _case_insensitive_pattern(COUNTRY_CODES)
# a language subtag, then subtags of 1-8 letters or digits (script, region, variant),
# separated by `-` or `_` (Android and POSIX write `en_GB`)
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,7}$"
LOCALE_MAX_LENGTH = 35
_LOCALE = re.compile(LOCALE_PATTERN)
_Q = re.compile(r"^q\s*=\s*([01](?:\.\d{0,3})?)$", re.IGNORECASE)


def country_code(value: str) -> str | None:
    """`value` (either case, nothing around it) as a stored country code, upper case; None
    when it is not an assigned code."""
    code = value.upper()
    return code if code in COUNTRY_CODES else None


def _subtags(tag: str) -> list[str] | None:
    tag = tag.strip()
    if len(tag) > LOCALE_MAX_LENGTH or not _LOCALE.fullmatch(tag):
        return None
    return re.split(r"[-_]", tag)


def region_of(tag: str) -> str | None:
    """The country of a locale tag: `en-US` → US, `it_IT` → IT, `zh-Hant-TW` → TW;
    None for `en`, `es-419` (a region that is not a country) or a malformed tag."""
    parts = _subtags(tag)
    if parts is None:
        return None
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            return country_code(part)
        if len(part) == 3 and part.isdigit():
            return None  # a UN M.49 area such as 419, Latin America
    return None


def language_of(tag: str) -> str | None:
    """The language subtag of a locale tag, lower case (`en-US` → en)."""
    parts = _subtags(tag)
    return parts[0].lower() if parts else None


def accept_language_tags(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most preferred first (by q, then by order);
    `*`, tags with q=0 and anything malformed are left out. Never raises."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:1000].split(",")):
        tag, *params = (piece.strip() for piece in item.split(";"))
        quality = 1.0
        for param in params:
            match = _Q.fullmatch(param)
            if match:
                quality = float(match.group(1))
        if quality > 0 and tag != "*" and _subtags(tag) is not None:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def inferred_country(locale: str | None, accept_language: str | None) -> str | None:
    """The country a sign-up does not state: the region of the app's `locale`, else of
    the first Accept-Language tag that has one; None when no tag names a country."""
    for tag in [locale or "", *accept_language_tags(accept_language)]:
        country = region_of(tag)
        if country is not None:
            return country
    return None


def inferred_language(
    locale: str | None, accept_language: str | None, supported: tuple[str, ...]
) -> str | None:
    """The first language among `supported` that the `locale`, else the Accept-Language
    header, asks for; None when neither names one."""
    for tag in [locale or "", *accept_language_tags(accept_language)]:
        language = language_of(tag)
        if language in supported:
            return language
    return None
