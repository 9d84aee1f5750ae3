"""The offline provider: a reply composed from the retrieved passages in reviewed wording.

No generative model runs here (see docs/adr). The reply:

1. opens on what the question is about: a small deterministic classifier (keyword cues in
   English and Italian, then the best passage's document) picks one of the intents in
   `offline_frames`, and the opening, the bridge to the steps and the closing question
   are chosen among that intent's variants by a hash of the message;
2. gives two or three concrete steps taken from the knowledge-base passages that answer
   the question, each rewritten into a complete sentence addressed to the athlete, in the
   athlete's language, naming no sport but their own (another sport's moments become
   "your next start", or the sentence is left out), with numbered citations;
3. ends with a line in the chosen personality's voice and the intent's question.

Different questions retrieve different passages and get different frames; the same
question always gets the same reply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from wellcoach.config import EmergencyResource
from wellcoach.llm import offline_frames as frames
from wellcoach.llm.offline_frames import Sport
from wellcoach.rag.retrieval import Passage

T = TypeVar("T")

MODEL = "offline-composer"
MAX_STEP_CHARS = 240
MAX_STEPS = 3
PERSONALITIES = ("empathetic", "motivational", "analytical")

SOURCES = {"en": "Sources", "it": "Fonti"}
HUMAN_OFFER = {
    "en": "If you'd like to talk this through with a human coach, just say so and I'll "
    "connect you.",
    "it": "Se vuoi parlarne con un coach in carne e ossa, dimmelo e ti metto in contatto.",
}
NO_MATERIAL = frames.NO_MATERIAL

# what the athlete's health data flags (wellcoach.health.summary alerts), said once,
# after the opening: the reply then speaks to the body as well as the question
HEALTH_NOTES = {
    "short_sleep_streak": {
        "en": "I also see from your health data that you have slept under 6 hours for"
        " {value:.0f} nights running. Recovery is part of training, so protecting your sleep"
        " tonight matters as much as any drill.",
        "it": "Dai tuoi dati di salute vedo anche che dormi meno di 6 ore da {value:.0f} notti"
        " di fila. Il recupero fa parte dell'allenamento, quindi proteggere il sonno stanotte"
        " conta quanto qualsiasi esercizio.",
    },
    "resting_hr_elevated": {
        "en": "Your resting heart rate has been about {rise:.0f}% above your usual for the last"
        " few days, which can come with fatigue, stress or an oncoming illness: an easier day"
        " may be wise.",
        "it": "Negli ultimi giorni la tua frequenza cardiaca a riposo è circa il {rise:.0f}%"
        " sopra il tuo solito, cosa che può accompagnare stanchezza, stress o un malanno in"
        " arrivo: una giornata più leggera può essere saggia.",
    },
    "hrv_low": {
        "en": "Your HRV has been well below your usual for a few days, a common sign that your"
        " body is still recovering.",
        "it": "La tua HRV è da qualche giorno ben sotto il tuo solito, un segnale frequente che"
        " il corpo sta ancora recuperando.",
    },
}


def health_note(alerts: Sequence[dict[str, Any]], lang: str) -> str | None:
    """One sentence for the most pressing alert (in the order the summary lists them)."""
    for alert in alerts:
        note = HEALTH_NOTES.get(str(alert.get("code")))
        if note is None:
            continue
        value = float(alert.get("value") or 0)
        baseline = float(alert.get("baseline") or 0)
        rise = 100 * (value / baseline - 1) if baseline else 0.0
        return note[lang].format(value=value, rise=rise)
    return None


# steps come from advice written for athletes; emergency protocols are for crisis turns
# and conversational patterns guide the coach's tone, not the athlete's actions
ADVICE_CATEGORIES = ("wellness_fundamentals", "sport_specific")


@dataclass(frozen=True)
class ComposeRequest:
    query: str
    language: str
    personality: str
    sport: str | None
    passages: list[Passage]  # ranked, one per document
    offer_human: bool = False
    # every passage of the top documents, so steps can come from their "how to" sections
    document_passages: dict[str, list[Passage]] | None = None
    # the health alerts of a user who consented to health data (`HealthSummary` alerts)
    health_alerts: Sequence[dict[str, Any]] = ()


# --- intent ----------------------------------------------------------------------------


def _cue_pattern(cues: Iterable[str]) -> re.Pattern[str]:
    """Cues at the start of a word; one of four letters or fewer as a whole word."""
    alternatives = [re.escape(cue) + (r"(?![\w'])" if len(cue) <= 4 else "") for cue in cues]
    return re.compile(r"(?<![\w'])(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


INTENT_PATTERNS = {
    intent: (_cue_pattern(strong), _cue_pattern(weak))
    for intent, (strong, weak) in frames.INTENT_CUES.items()
}


NEGATED = re.compile(r"(?:\bno|\bnot|\bwithout|\bsenza|\bnessun\w*)\s+$", re.IGNORECASE)


def intent_scores(text: str) -> dict[str, int]:
    """Each intent's cue score for a message: two per strong cue, one per weak cue; a cue
    right after "no"/"without"/"senza" does not count ("training solo with no teammates")."""
    text = text.replace("’", "'")

    def count(pattern: re.Pattern[str]) -> int:
        return sum(1 for m in pattern.finditer(text) if not NEGATED.search(text[: m.start()]))

    return {
        intent: 2 * count(strong) + count(weak)
        for intent, (strong, weak) in INTENT_PATTERNS.items()
    }


def detect_intent(text: str, passages: Sequence[Passage] = ()) -> str:
    """What the message is about: the intent with the highest cue score (ties go to the
    one listed first in `INTENT_ORDER`). With no cue, or a single weak one, what the best
    advice passage's document is about, when known; else the cue's intent or "general"."""
    scores = intent_scores(text)
    best = max(frames.INTENT_ORDER, key=lambda intent: scores[intent])
    if scores[best] > 1:
        return best
    for passage in passages:
        if passage.category in ADVICE_CATEGORIES:
            return document_intent(passage) or (best if scores[best] else "general")
    return best if scores[best] else "general"


def document_intent(passage: Passage) -> str | None:
    name = f"{passage.slug} {passage.topic}".lower()
    for fragment, intent in frames.INTENT_BY_DOCUMENT:
        if fragment in name:
            return intent
    return None


# --- sport -----------------------------------------------------------------------------

SPORTS_BY_KEY = {sport.key: sport for sport in frames.SPORTS}
SPORT_TERMS = tuple(
    (re.compile(r"(?<![\w-])(?:" + pattern + ")", re.IGNORECASE), sports)
    for pattern, sports in frames.SPORT_TERMS
)


def sport_key(name: str | None) -> str | None:
    """The key in `offline_frames.SPORTS` for what the athlete typed, or the typed name
    itself (lowercase) for a sport the tables do not know; None without a sport."""
    if not name or not name.strip():
        return None
    cleaned = re.sub(r"[\s_]+", " ", name.strip().lower())
    key = frames.SPORT_ALIASES.get(cleaned, cleaned).replace(" ", "_")
    return key


SPORT_NAMES = tuple(
    (re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE), key)
    for key, name in [
        *((sport.key, sport.en) for sport in frames.SPORTS),
        *((sport.key, sport.it) for sport in frames.SPORTS if len(sport.it) > 3),
        *((key, alias) for alias, key in frames.SPORT_ALIASES.items() if len(alias) > 3),
    ]
)


def athlete_sport(request: ComposeRequest) -> str | None:
    """The athlete's sport: the one in their profile, else the only one the message names."""
    if request.sport and request.sport.strip():
        return request.sport
    named = {key for pattern, key in SPORT_NAMES if pattern.search(request.query)}
    return named.pop() if len(named) == 1 else None


def written_for(passage: Passage, sport: str | None) -> bool:
    """A guide for every sport, or for the athlete's (any guide when the sport is unknown)."""
    key = sport_key(sport)
    if passage.sport == "all" or key is None or passage.sport == key:
        return True
    return key in frames.GUIDE_SPORTS.get(passage.sport, frozenset())


def foreign_sport_words(text: str, key: str | None) -> list[str]:
    """Words of `text` that belong to sports other than the athlete's."""
    return [
        match.group(0)
        for pattern, sports in SPORT_TERMS
        if key not in sports
        for match in [pattern.search(text)]
        if match
    ]


def _moment(sport: Sport | None, lang: str, preposition: str) -> str:
    """'your next serve' (en) or 'prima del tuo prossimo servizio' (it)."""
    if lang == "it":
        phrase = sport.moment[1] if sport else frames.GENERIC_MOMENT[1]
        if preposition.lower() == "dopo":
            phrase = re.sub(r"^della ", "la ", re.sub(r"^del ", "il ", phrase))
        return f"{preposition} {phrase}"
    noun = sport.moment[0] if sport else frames.GENERIC_MOMENT[0]
    return f"{preposition} your next {noun}"


SKILL_LIST = {
    "en": re.compile(
        r"\b(before|after)\s+(?:(?:a|an|the|your|each|every)\s+)?"
        r"(?:{s})(?:(?:\s*,\s*(?:or\s+|and\s+)?|\s+(?:or|and)\s+)(?:(?:a|an|the)\s+)?(?:{s}))*"
        r"|\bon the free[- ]throw line\b".replace("{s}", frames.CLOSED_SKILLS["en"]),
        re.IGNORECASE,
    ),
    "it": re.compile(
        r"\b(prima|dopo)\s+(?:di\s+|d')?(?:(?:un|una|uno|il|la|lo)\s+|un'|l')?"
        r"(?:{s})(?:(?:\s*,\s*(?:o\s+|e\s+)?|\s+(?:o|e)\s+)(?:(?:un|una|uno|il|la|lo)\s+|un'|l')?"
        r"(?:{s}))*".replace("{s}", frames.CLOSED_SKILLS["it"]),
        re.IGNORECASE,
    ),
}
ACTIVITY_LIST = {
    lang: re.compile(rf"\b{words}(?:\s*,\s*{words})*,?\s+(?:or|and|o|e)\s+{words}\b", re.IGNORECASE)
    for lang, words in frames.ACTIVITIES.items()
}
QUOTE = re.compile(r'"[^"]*"|“[^”]*”|«[^»]*»')
QUOTE_SEPARATOR = r"(?:\s*,\s*|\s+(?:or|and|o|e|oppure)\s+)"
SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”»]))\s+(?=[\"“«(]?[A-ZÀ-Ý0-9])")


def _sentences(text: str) -> list[str]:
    """The sentences of `text`, never cut inside a quotation."""
    pieces: list[str] = []
    start = 0
    for boundary in SENTENCE_END.finditer(text):
        before = text[start : boundary.start()]
        if before.count('"') % 2 or before.count("“") > before.count("”"):
            continue
        if before.count("«") > before.count("»") or before.count("(") > before.count(")"):
            continue
        pieces.append(before)
        start = boundary.end()
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s*,\s*(?=[,.;:!?)])", "", text)
    text = re.sub(r":\s*(?=[.;!?]|$)", "", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    return re.sub(r"\s+([,.;:!?])", r"\1", text)


def _drop_foreign_quotes(sentence: str, key: str | None) -> str | None:
    """The sentence without the quoted examples that name another sport, when they are
    items of a list of examples; None when such an example carries the sentence."""
    for quote in QUOTE.findall(sentence):
        if not foreign_sport_words(quote, key):
            continue
        escaped = re.escape(quote)
        listed = re.search(
            rf"[\"”»]{QUOTE_SEPARATOR}{escaped}|{escaped}{QUOTE_SEPARATOR}[\"“«]", sentence
        )
        if not listed:
            return None
        after = re.compile(rf"[\"”»]{QUOTE_SEPARATOR}{escaped}")
        if after.search(sentence):  # an item after the first: drop it with its separator
            sentence = re.sub(rf"{QUOTE_SEPARATOR}{escaped}", "", sentence, count=1)
        else:  # the first item: drop it with the separator that follows
            sentence = re.sub(rf"{escaped}{QUOTE_SEPARATOR}", "", sentence, count=1)
    return _tidy(sentence)


def neutralise(text: str, lang: str, sport: str | None) -> str | None:
    """`text` naming no sport but the athlete's: another sport's closed skills become the
    athlete's next moment, lists of endurance activities become light movement, examples
    naming another sport are dropped; None when the first sentence cannot be saved."""
    key = sport_key(sport)
    known = SPORTS_BY_KEY.get(key or "")

    def own_moment(match: re.Match[str]) -> str:
        if not foreign_sport_words(match.group(0), key):
            return match.group(0)
        return _moment(known, lang, match.group(1) or "before")

    text = SKILL_LIST[lang].sub(own_moment, text)
    text = ACTIVITY_LIST[lang].sub(
        lambda m: frames.LIGHT_MOVEMENT[lang] if foreign_sport_words(m.group(0), key) else m[0],
        text,
    )
    text = re.sub(
        r"\s*\([^()]*\)", lambda m: "" if foreign_sport_words(m.group(0), key) else m[0], text
    )
    kept: list[str] = []
    for index, sentence in enumerate(_sentences(text)):
        cleaned = _drop_foreign_quotes(sentence, key)
        if cleaned is not None and not foreign_sport_words(cleaned, key):
            kept.append(cleaned)
        elif index == 0:
            return None
    return _tidy(" ".join(kept)) if kept else None


# --- steps -----------------------------------------------------------------------------

IMPERATIVE_EN = (
    "accept add agree aim allow answer arrive ask avoid begin book breathe bring build call "
    "celebrate change check choose clench close commit count create cut decide describe dim "
    "do don't drink drop ease eat end enjoy exhale expect feel film find finish focus follow "
    "get give go grow hand hear hold identify imagine inhale jot keep label learn leave let "
    "lie limit list lock log look loosen lower make mark move mute name never note notice "
    "open organise organize pair pause pick picture plan play point practise practice "
    "prepare protect pull put raise rate read reach reconnect reduce reframe rehearse relax "
    "release remember remind repeat replace reset retie return review roll rotate run say "
    "scan schedule see seek separate set share shift shorten shrug sit slow smile speak "
    "spend squeeze stand start stay stick stop swap switch take talk tell tense test think "
    "tick tighten track train treat trust try turn unclench use visualise visualize wait "
    "walk warm watch welcome wind work write"
).split()
IMPERATIVE_IT = (
    "abbassa accetta accorcia affidati aggiungi alza alzati allenati allunga annota apri "
    "ascolta avvisa bevi cambia cammina cerca chiacchiera chiedi chiudi coinvolgi comincia "
    "completa concedi concentrati concorda condividi confrontati conta contatta controlla "
    "costruisci cronometra dai da' dedica definisci descrivi di' divertiti domanda dormi "
    "elenca entra esci esegui espira evita fai fa' fermati festeggia fidati fissa gioca "
    "godi guarda identifica immagina impara impegnati individua informa inizia inspira "
    "interrompi lascia lavora libera limita mangia mantieni metti misura muoviti nota "
    "organizza osserva parla parti passa pensa pianifica porta prendi prenota prepara "
    "procedi programma prova punta racconta rallenta regala resta respira riconosci "
    "ricomincia ricorda riduci rifletti riformula rilassa rileggi rimani rimetti ringrazia "
    "riparti ripassa ripeti rispetta rispondi ritrova riprendi riguarda rivedi rivolgi "
    "scegli sciogli scrivi sdraiati segna segui separa siediti smetti sorridi sostituisci "
    "spegni sposta spunta stabilisci stringi tieni togli torna tratta trasforma trova usa "
    "utilizza vai valuta visualizza"
).split()
# an Italian imperative may carry its pronouns: "scrivilo", "chiediti", "rileggilo"
CLITIC = r"(?:lo|la|li|le|ne|ti|ci|si|telo|tela|tene|mi)?"
IMPERATIVE = {
    "en": re.compile(
        r"^(?:" + "|".join(re.escape(word) for word in IMPERATIVE_EN) + r")(?![\w'])"
        r"|^do not\b",
        re.IGNORECASE,
    ),
    "it": re.compile(
        r"^(?:" + "|".join(re.escape(word) for word in IMPERATIVE_IT) + rf"){CLITIC}(?![\w'])"
        r"|^non \w+(?:are|ere|ire|arti|erti|irti|arlo|erlo|irlo)\b",
        re.IGNORECASE,
    ),
}
SECOND_PERSON = {
    "en": re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE),
    "it": re.compile(
        r"\b(?:tu|ti|te|tuo|tua|tuoi|tue|puoi|devi|sei|hai|fai|vuoi|senti|riesci|sai|"
        r"ricordati|chiediti|prenditi|concediti)\b",
        re.IGNORECASE,
    ),
}
THIRD_PERSON = {
    "en": re.compile(
        r"^(?:many |most |some |elite |top |young )?(?:athletes|players|people|they|he|she|"
        r"the athlete|the player|someone|everyone)\b|\b(?:athletes|players) (?:should|must|"
        r"need|tend)\b",
        re.IGNORECASE,
    ),
    "it": re.compile(
        r"^(?:molti |tanti |alcuni )?(?:gli atleti|i giocatori|l'atleta|il giocatore|chi|"
        r"tutti|qualcuno)\b|\bgli atleti (?:dovrebbero|devono|tendono)\b",
        re.IGNORECASE,
    ),
}
FIRST_PERSON = {
    "en": re.compile(r"\b(?:I|I'm|I've|my|me|am I)\b"),
    "it": re.compile(r"\b(?:mi|mio|mia|miei|mie|ho|sono|io|me)\b", re.IGNORECASE),
}
# words that set the scene before the instruction: "If you nap, keep it short"
SCENE = {
    "en": re.compile(
        r"^(?:if|when|whenever|after|before|during|once|at|in|on|for|between|every|each|"
        r"instead|as soon as|while|within|with|the day|the night)\b",
        re.IGNORECASE,
    ),
    "it": re.compile(
        r"^(?:se|quando|dopo|prima|durante|appena|nei|nelle|nel|nella|negli|in|a|al|alla|allo|"
        r"ai|alle|per|ogni|tra|fra|invece|il giorno|la sera|la notte|mentre|entro|con|insieme)\b",
        re.IGNORECASE,
    ),
}
ADDRESSED = {
    "en": re.compile(r"(?:you|your)\b", re.IGNORECASE),
    "it": re.compile(
        r"(?:tu|ti|il tuo|la tua|i tuoi|le tue|puoi|devi|prova|se puoi)\b", re.IGNORECASE
    ),
}
# "you" as the subject of what follows a scene ("After a loss, you can ...")
SUBJECT = {
    "en": re.compile(
        r"you(?:'ll|'re| can| could| should| need| may| might| will| want| have)\b",
        re.IGNORECASE,
    ),
    "it": re.compile(r"(?:tu|puoi|devi|potresti|dovresti|hai bisogno)\b", re.IGNORECASE),
}
# a sentence with a verb in it (beyond the first, a step's sentences may describe)
FINITE = {
    "en": re.compile(
        r"\b(?:is|are|was|were|be|am|isn't|aren't|can|can't|cannot|will|won't|would|should|"
        r"could|may|might|must|do|does|did|don't|doesn't|has|have|had|need|needs|makes?|"
        r"helps?|feels?|tends?|gets?|keeps?|means?|works?|goes|comes?|takes?|gives?|"
        r"becomes?|stays?|seems?|looks?|happens?|matters?|shows?|builds?|lets|turns?|"
        r"lowers?|reduces?|protects?|rebuilds?|follows?|hurts?|grows?|costs?)\b|'s\b|'re\b|"
        r"'ll\b|'ve\b",
        re.IGNORECASE,
    ),
    "it": re.compile(
        r"\b(?:è|sono|sei|siamo|hai|ha|hanno|abbiamo|può|puoi|possono|deve|devi|devono|fa|"
        r"fai|fanno|serve|servono|aiuta|aiutano|conta|contano|va|vanno|resta|restano|diventa|"
        r"diventano|significa|funziona|funzionano|basta|bastano|c'è|ci sono|tende|tendono|"
        r"rende|rendono|abbassa|riduce|permette|sembra|sembrano|viene|vengono|porta|portano|"
        r"dà|danno|tiene|mantiene|cresce|costa)\b",
        re.IGNORECASE,
    ),
}
# words that point back to something the passage said before the step
DANGLING = {
    "en": re.compile(r"\b(?:it|them|each one|these|those|this one)\b", re.IGNORECASE),
    "it": re.compile(r"\b(?:ciascuno|ciascuna|questi|queste|quelli|quelle)\b", re.IGNORECASE),
}
NUMBER_WORD = re.compile(
    r"(?:one|two|three|four|five|a few|uno|una|due|tre|quattro|cinque|qualche)\b"
)
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*)$")
BOLD_LEAD = re.compile(r"^\*\*(.+?)\*\*\s*(.*)$")
MARKDOWN = re.compile(r"\*\*|__|`|\[|\]|^#+\s*|(?<![\w*])\*(?=\w)|(?<=\w)\*(?![\w*])")
LABEL = re.compile(r"^([A-ZÀ-Üa-zà-ü][\w' -]{1,30}):\s+(.*)$")
ACTION_HEADING = re.compile(
    r"how|what to do|try|routine|step|practi|technique|plan|tool|exercise|instead|do it|"
    r"build|train|help|reset|rule|on the day|night before|when to use|"
    r"come|cosa fare|prova|passi|passo|esercizi|tecnica|piano|strument|pratica|routine|"
    r"costruisci|allena|aiuta|regola|giorno della gara|sera prima|quando usarl",
    re.IGNORECASE,
)
DESCRIPTIVE_HEADING = re.compile(
    r"^why|^what's|^what it costs|warning|signs|^perché|segnali|campanell|allarme|^cos'è|"
    r"^cosa succede|"
    r"^what pressure|^two (?:types|kinds)|^three (?:types|kinds)|^tre tipi|^due tipi",
    re.IGNORECASE,
)
SKIPPED_HEADING = re.compile(
    r"mistakes|errori comuni|what doesn't help|cosa non aiuta|to avoid|da evitare", re.IGNORECASE
)


def _pick(options: Sequence[T], seed: str) -> T:
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return options[digest % len(options)]


def _instructs(text: str, lang: str) -> bool:
    return bool(IMPERATIVE[lang].match(text) or SECOND_PERSON[lang].search(text))


def _leads(sentence: str, lang: str) -> bool:
    """The sentence speaks to the athlete: it starts with an imperative ("Breathe",
    "Don't", "Non forzare"), with "you"/"your" ("tu", "il tuo"), or with a clause that
    sets the scene followed by one of those ("If you nap, keep it short")."""
    sentence = sentence.lstrip('"“«(')
    if IMPERATIVE[lang].match(sentence) or ADDRESSED[lang].match(sentence):
        return True
    titled = re.match(r"^[^:,.]{3,30}: (\w.*)$", sentence)  # "Pisolini brevi: se ne hai ..."
    if titled and _leads(titled[1], lang):
        return True
    if not SCENE[lang].match(sentence):
        return False
    # the instruction follows the scene: "If you nap, keep it ...", "Per 2-4 settimane
    # prova ...", "After a loss, you can ..."
    words = sentence.split(" ")
    return any(
        IMPERATIVE[lang].match(" ".join(words[i:])) or SUBJECT[lang].match(" ".join(words[i:]))
        for i in range(1, min(len(words), 9))
    )


def _complete(sentence: str, lang: str) -> bool:
    """The sentence has a verb: an instruction, a finite verb, or an imperative after a
    comma ("Between sessions, rest")."""
    if _leads(sentence, lang) or FINITE[lang].search(sentence):
        return True
    return any(IMPERATIVE[lang].match(c) for c in re.split(r"[,;:]\s+", sentence)[1:])


def _whole_sentences(text: str, lang: str) -> str | None:
    """The step when its first sentence speaks to the athlete, cut before the first
    sentence without a verb ("Two breaths."); None otherwise."""
    sentences = _sentences(text)
    if not sentences or not _leads(sentences[0], lang):
        return None
    kept = [sentences[0]]
    for sentence in sentences[1:]:
        if not _complete(sentence, lang):
            break
        kept.append(sentence)
    return " ".join(kept)


def _unlabel(raw: str, lang: str) -> tuple[str, bool]:
    """The piece without a descriptive lead label ("**Caffeine cut-off.** Avoid ..." →
    "Avoid ..."); the flag says the label named a category ("Physical: poor sleep")."""
    bold = BOLD_LEAD.match(raw)
    if bold:
        label, rest = bold.group(1).strip(), bold.group(2).strip()
        if label.endswith(":") or rest.startswith(":"):
            rest = rest.lstrip(": ").strip()
            return rest, not _instructs(rest, lang)
        if ": " in label:  # "**First few hours: let yourself feel it.**"
            head, tail = label.split(": ", 1)
            label = tail if IMPERATIVE[lang].match(tail) else label
        if label[-1:] in ".!?":
            if IMPERATIVE[lang].match(label) or not rest:
                return f"{label} {rest}".strip(), False
            if _leans_back(rest, lang):  # "Pisolini brevi: se ne hai bisogno, limitali ..."
                return f"{label[:-1]}: {rest[0].lower()}{rest[1:]}", False
            return rest, False  # a noun phrase ("Short naps.") is a title, not a sentence
        return f"{label} {rest}".strip(), False
    bare = MARKDOWN.sub("", raw).strip()
    labelled = LABEL.match(bare)
    if labelled and not IMPERATIVE[lang].match(bare):
        body = labelled.group(2)
        return body, not _instructs(body, lang)
    return bare, False


def _cut_short(content: str, last_line: str) -> bool:
    """A passage cut by the chunker inside a long paragraph ends mid-sentence."""
    bare = MARKDOWN.sub("", last_line).rstrip()
    return len(content) > 900 and bool(re.search(r"[a-zà-ÿ,]$", bare))


def _ends_on_verb(intro: str) -> bool:
    """A list's introduction that the items complete: "For 2-4 weeks, try:"."""
    last = _sentences(intro)[-1] if intro else ""
    words = re.findall(r"[\w']+", last.lower())
    return bool(words) and len(last) < 100 and words[-1] in frames.LIST_VERBS


def _leans_back(text: str, lang: str) -> bool:
    """The sentence opens on a pronoun for something said before it ("Se ne hai bisogno,
    limitali ...": the naps of the title)."""
    if lang == "en":
        return bool(DANGLING["en"].search(re.split(r"[,;:]", text)[0]))
    words = re.findall(r"[\w']+", text.lower())[:8]
    return "ne" in words[:3] or any(
        IMPERATIVE["it"].match(w[:-2]) and not IMPERATIVE["it"].match(w)
        for w in words
        if w.endswith(("li", "le", "lo", "la"))
    )


def _italian(text: str) -> str:
    for pattern, replacement in frames.ITALIAN_FOR_LOANWORDS:
        text = re.sub(pattern, replacement, text)
    return text


def _terminate(text: str) -> str:
    text = text.rstrip()
    text = re.sub(r"[;,:\s—–-]+$", "", text)
    if re.search(r"[.!?][\"”»)]?$", text):
        return text
    return text + "."


def _shorten(text: str) -> str | None:
    if len(text) <= MAX_STEP_CHARS:
        return text
    kept = ""
    for sentence in _sentences(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > MAX_STEP_CHARS:
            break
        kept = candidate
    return kept or None


def as_step(
    raw: str, lang: str, sport: str | None, intro: str | None = None, action: bool = False
) -> str | None:
    """A line of a passage as a step: one or more complete sentences addressed to the
    athlete ("you"/"tu"), capitalised and terminated, with no markdown and no other sport;
    None when the line cannot be one (a list's introduction, a description, a fragment
    that leans on context, a sentence about athletes in the third person)."""
    item = LIST_ITEM.match(raw)
    text, _ = _unlabel(item.group(1) if item else raw, lang)
    text = re.sub(r"\s+", " ", MARKDOWN.sub("", text)).strip().strip("*_ ")
    if lang == "it":
        text = _italian(text)
    if len(text) < 12 or text.endswith(":"):
        return None
    if text[0].islower() and IMPERATIVE[lang].match(text):
        text = text[0].upper() + text[1:]
    elif (text[0].islower() or text[0].isdigit()) and intro and _ends_on_verb(intro):
        lead = _sentences(intro)[-1].rstrip(": ")
        text = f"{lead} {text}"  # "Per 2-4 settimane prova:" + "un esercizio"
    elif text[0].isdigit() or (action and NUMBER_WORD.match(text)):
        text = frames.TRY[lang].format(rest=text)  # "20-40 minutes of ..." → "Try 20-40 ..."
    elif text[0].islower():
        return None
    text = _terminate(text)
    if text.endswith("?") and not IMPERATIVE[lang].match(text):
        if not FIRST_PERSON[lang].search(text):
            return None
        # a question to ask oneself, worded in the first person in the guide
        text = frames.ASK_YOURSELF[lang].format(question=text)
    if THIRD_PERSON[lang].search(text):
        return None
    neutral = neutralise(text, lang, sport)
    if neutral is None:
        return None
    text = _shorten(_whole_sentences(_terminate(neutral), lang) or "") or ""
    if len(text) < 12 or not text[0].isupper():
        return None
    return text


def candidate_steps(
    passage: Passage, lang: str | None = None, sport: str | None = None
) -> list[tuple[str, int]]:
    """The steps a passage offers with a usefulness score: instructions and list items,
    preferably under a "how to" heading; descriptions score low, "common mistakes" lists
    give none."""
    lang = lang or passage.language
    heading = passage.heading or ""
    if SKIPPED_HEADING.search(heading):
        return []
    descriptive = bool(DESCRIPTIVE_HEADING.search(heading))
    action_section = bool(ACTION_HEADING.search(heading)) and not descriptive
    found: list[tuple[str, int]] = []
    intro: str | None = None
    lines = [line for line in passage.content.splitlines() if line.strip()]
    for number, line in enumerate(lines, 1):
        match = LIST_ITEM.match(line)
        if match:
            pieces = [match.group(1).strip()]
        else:
            bare = MARKDOWN.sub("", line).strip()
            intro = _sentences(bare)[-1] if bare.endswith(":") else None
            pieces = _sentences(line.strip())
        if number == len(lines) and _cut_short(passage.content, line):
            pieces = pieces[:-1]  # the passage ends mid-sentence (a long paragraph)
        for piece in pieces:
            body, category = _unlabel(piece, lang)
            step = as_step(piece, lang, sport, intro if match else None, action_section)
            if step is None:
                continue
            score = 0
            if IMPERATIVE[lang].match(body) or IMPERATIVE[lang].match(step):
                score += 3
            if category:
                score -= 2  # "Physical: poor sleep, ..." describes, it does not instruct
            if match:
                score += 1
            if len(step) > 60:
                score += 1  # a very short line usually leans on context it does not carry
            if action_section:
                score += 2
            if descriptive:
                score -= 3
            sentences = _sentences(step)
            if DANGLING[lang].search(re.split(r"[:;,]", sentences[0])[0]):
                if len(sentences) == 1:
                    continue  # "Put a number on it": what "it" is, the passage said before
                score -= 2
            if (score >= 2 or (match and action_section and score >= 0)) and step not in [
                f[0] for f in found
            ]:
                found.append((step, score))
    return found


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w{4,}", text.lower()))


def _intent_words(step: str, intent: str) -> int:
    """How many of the intent's words the step uses (a word of four letters or fewer
    whole, a longer one as a stem: "rest" is not "resta", "recuper" is "recuperare")."""
    words = re.findall(r"[\w-]{3,}", step.lower())
    return sum(
        1
        for stem in frames.INTENT_WORDS.get(intent, ())
        if any(word == stem or (len(stem) > 4 and word.startswith(stem)) for word in words)
    )


def _relevance(step: str, query: str, intent: str) -> int:
    cues = _words(query)
    return sum(1 for w in re.findall(r"\w{4,}", step.lower()) if w in cues) + _intent_words(
        step, intent
    )


def _related(passage: Passage, intent: str) -> bool | None:
    """Whether the passage's guide is about the intent or a close one; None when the
    guide's subject is not known (or the intent is general)."""
    about = document_intent(passage)
    if about is None or intent == "general":
        return None
    return about in frames.RELATED.get(intent, frozenset({intent}))


def choose_steps(
    request: ComposeRequest, limit: int = MAX_STEPS, intent: str | None = None
) -> list[tuple[str, Passage]]:
    """Up to `limit` (step, source passage), at most two per document (three when only
    one answers), from the top three advice documents written for the athlete's sport, in
    the user's language (in English, from any language when no English passage answers).
    Steps about the question's intent come first; below the best document (and for the
    intents the knowledge base barely covers, everywhere) a guide about something else
    gives only steps that touch the intent."""
    lang = request.language if request.language in ("en", "it") else "en"
    intent = intent or detect_intent(request.query, request.passages)
    sport = athlete_sport(request)
    # a guide written for another sport speaks its language throughout: not quoted
    advice = [
        p for p in request.passages if p.category in ADVICE_CATEGORIES and written_for(p, sport)
    ]
    own = [p for p in advice if p.language == lang]
    # an Italian reply quotes Italian passages only; an English one falls back to any
    pools = (own,) if lang == "it" else (own, advice)
    whole = request.document_passages or {}
    for pool in pools:
        chosen: list[tuple[str, Passage]] = []
        per_document = 2 if len(pool) > 1 else limit
        for rank, ranked in enumerate(pool[:3]):
            related = _related(ranked, intent)
            if rank == 0 and intent not in frames.THIN_INTENTS:
                related = related or None  # retrieval's best answer is trusted
            bonus = 2 if related else 0
            steps = [
                (step, score + bonus + _relevance(step, request.query, intent), order, passage)
                for order, passage in enumerate(whole.get(ranked.document_id, [ranked]))
                for step, score in candidate_steps(passage, lang, sport)
                if related
                or _intent_words(step, intent)
                or (related is None and intent not in frames.THIN_INTENTS)
            ]
            steps.sort(key=lambda item: (-item[1], item[2]))
            taken = 0
            for step, _, _, passage in steps:
                if taken == per_document or len(chosen) == limit:
                    break
                if step not in [c[0] for c in chosen]:
                    chosen.append((step, passage))
                    taken += 1
        if chosen:
            return chosen
    return []


def key_point(passage: Passage, lang: str, sport: str | None) -> str | None:
    """The first two sentences of a passage, naming no other sport."""
    text = re.sub(r"\s+", " ", MARKDOWN.sub("", passage.content)).strip()
    kept = [
        neutral
        for sentence in _sentences(text)[:2]
        if (neutral := neutralise(sentence, lang, sport)) is not None
    ]
    point = _shorten(" ".join(kept)) if kept else None
    if point and lang == "it":
        point = _italian(point)
    return point


# --- the reply -------------------------------------------------------------------------


def _frame_words(sport: str | None, lang: str) -> tuple[dict[str, str], bool]:
    """The words the frames put in their slots, and whether they can name the sport."""
    key = sport_key(sport)
    known = SPORTS_BY_KEY.get(key or "")
    event = known.event if known else frames.GENERIC_EVENT
    slots = {"event": event[0] if lang == "en" else event[1], "sport": "", "nel": ""}
    if lang == "en" and key:
        slots["sport"] = known.en if known else key.replace("_", " ")
    elif lang == "it" and known:  # an unknown sport has no Italian name to use
        slots["sport"], slots["nel"] = known.it, known.it_in
    return slots, bool(slots["sport"])


def compose(request: ComposeRequest) -> tuple[str, list[Passage]]:
    """The reply text and the passages it cites (in citation order)."""
    lang = request.language if request.language in ("en", "it") else "en"
    personality = request.personality if request.personality in PERSONALITIES else "empathetic"
    intent = detect_intent(request.query, request.passages)
    seed = f"{lang}|{personality}|{request.query.strip()}"
    sport = athlete_sport(request)
    slots, named = _frame_words(sport, lang)
    parts = [_pick(frames.OPENINGS[intent][lang], "opening|" + seed)]
    note = health_note(request.health_alerts, lang)
    steps = choose_steps(request, intent=intent)

    def ending(several: bool) -> str:
        pushes = frames.PUSH if several else frames.PUSH_ONE
        closings = [
            c
            for c in frames.CLOSINGS[intent][lang]
            if several or not re.search(frames.SEVERAL, c, re.IGNORECASE)
        ]
        push = _pick(pushes[personality][lang], "push|" + seed)
        closing = _pick(closings, "closing|" + seed).format(**slots)
        return f"{push} {closing}".strip()

    cited: list[Passage] = []
    if steps:
        for _, passage in steps:
            if passage.document_id not in [c.document_id for c in cited]:
                cited.append(passage)
        number = {passage.document_id: index for index, passage in enumerate(cited, 1)}
        with_sport, without = _pick(frames.BRIDGES[intent][lang], "bridge|" + seed)
        bridge = with_sport.format(**slots) if named else without
        lines = [
            f"{index}. {text} [{number[passage.document_id]}]"
            + (f" ({passage.language.upper()})" if passage.language != lang else "")
            for index, (text, passage) in enumerate(steps, 1)
        ]
        parts.append(bridge + "\n" + "\n".join(lines))
        parts.append(ending(len(steps) > 1))
    else:
        advice = [
            p for p in request.passages if p.category in ADVICE_CATEGORIES and written_for(p, sport)
        ]
        own = [p for p in advice if p.language == lang and _related(p, intent) is not False]
        point = key_point(own[0], lang, sport) if own else None
        if intent == "nutrition":
            parts.append(frames.NO_NUTRITION[lang])
        elif point:
            cited = [own[0]]
            parts.append(f"{frames.KEY_POINT[lang]} {point} [1]")
            parts.append(ending(False))
        elif lang == "it" and advice and all(p.language != lang for p in advice):
            cited = [advice[0]]
            parts.append(frames.ONLY_IN_ENGLISH)
        else:
            if intent == "general":
                parts = []  # nothing to validate and nothing to practise: just ask
            parts.append(NO_MATERIAL[lang])
    if note:
        parts.insert(1 if parts and parts[0] not in NO_MATERIAL.values() else 0, note)
    if request.offer_human:
        parts.append(HUMAN_OFFER[lang])
    if cited:
        parts.append(
            f"{SOURCES[lang]}: " + "; ".join(f"[{i}] {p.title}" for i, p in enumerate(cited, 1))
        )
    return "\n\n".join(parts), cited


CRISIS_TEXT = {
    "en": (
        "I'm really glad you told me, and I'm taking what you said seriously. Your safety "
        "matters more than anything else right now.\n\n"
        "If you are in danger or might act on these thoughts, please call the emergency "
        "number now. If you need to talk to someone, a crisis line is there for you:\n"
        "{resources}\n\n"
        "I've asked one of our human coaches to reach out to you as a priority. You don't "
        "have to go through this alone: if you can, tell someone you trust who is near you "
        "and stay with them.\n\nAre you safe right now?"
    ),
    "it": (
        "Sono davvero contento che tu me l'abbia detto, e prendo sul serio quello che hai "
        "scritto. La tua sicurezza ora conta più di ogni altra cosa.\n\n"
        "Se sei in pericolo o temi di agire su questi pensieri, chiama subito il numero di "
        "emergenza. Se hai bisogno di parlare con qualcuno, una linea di ascolto è lì per "
        "te:\n{resources}\n\n"
        "Ho chiesto a uno dei nostri coach di contattarti con priorità. Non devi affrontarlo "
        "da solo: se puoi, avvisa una persona di fiducia vicino a te e resta con lei.\n\n"
        "Adesso sei al sicuro?"
    ),
}


def crisis_reply(language: str, resources: list[EmergencyResource]) -> str:
    """The reviewed crisis reply, listing every resource given (the user's country's
    emergency number and crisis line, already worded in `language`)."""
    lang = language if language in CRISIS_TEXT else "en"
    listed = "\n".join(r.line() for r in resources)
    return CRISIS_TEXT[lang].format(resources=listed)
