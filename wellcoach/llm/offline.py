"""The offline provider: a reply composed from the retrieved passages in reviewed wording.

No generative model runs here (see docs/adr). The reply validates the feeling in the
chosen personality, gives two or three concrete steps taken from the knowledge-base
passages that answer the question, framed for the user's sport, in the user's
language, with numbered citations. Different questions retrieve different passages,
so they get different, relevant answers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from wellcoach.config import EmergencyResource
from wellcoach.rag.retrieval import Passage

MODEL = "offline-composer"
MAX_STEP_CHARS = 240

FEELINGS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "nervous": (
        (
            "nervous",
            "anxious",
            "anxiety",
            "nerves",
            "scared",
            "panic",
            "freeze",
            "freak",
            "nervos",
            "ansia",
            "agitat",
            "paura",
            "tremo",
            "cuore a mille",
            "panico",
        ),
        {"en": "nervous", "it": "agitato"},
    ),
    "tired": (
        (
            "tired",
            "exhausted",
            "drained",
            "burnt out",
            "burned out",
            "no energy",
            "fatigue",
            "stanc",
            "cotto",
            "sfinit",
            "esaust",
            "senza energie",
        ),
        {"en": "worn out", "it": "stanco"},
    ),
    "frustrated": (
        (
            "angry",
            "frustrat",
            "annoyed",
            "mad at",
            "furious",
            "tilt",
            "arrabbiat",
            "frustrat",
            "nervoso con",
            "incazzat",
            "rabbia",
        ),
        {"en": "frustrated", "it": "frustrato"},
    ),
    "down": (
        (
            "sad",
            "down",
            "low",
            "upset",
            "disappointed",
            "gutted",
            "crushed",
            "useless",
            "triste",
            "giù",
            "deluso",
            "a pezzi",
            "inutile",
            "abbattut",
        ),
        {"en": "down", "it": "giù di morale"},
    ),
    "unmotivated": (
        (
            "motivation",
            "unmotivated",
            "don't feel like",
            "dont feel like",
            "no drive",
            "quit",
            "motivazione",
            "voglia",
            "mollare",
            "smettere",
        ),
        {"en": "low on motivation", "it": "senza motivazione"},
    ),
    "sleepless": (
        ("sleep", "insomnia", "awake at night", "dorm", "sonno", "insonnia"),
        {"en": "tired", "it": "stanco"},
    ),
}

VALIDATION = {
    "empathetic": {
        "en": [
            "That sounds really hard, and it makes sense that you feel {feeling}.",
            "Thank you for telling me. Feeling {feeling} is more common among athletes than it "
            "looks from the outside.",
        ],
        "it": [
            "Sembra davvero pesante, ed è comprensibile sentirsi {feeling}.",
            "Grazie per avermelo detto. Sentirsi {feeling} capita a molti più atleti di quanto "
            "sembri da fuori.",
        ],
    },
    "motivational": {
        "en": [
            "I hear you. Feeling {feeling} is part of competing, and it's something you can train.",
            "Good on you for facing this. Being {feeling} doesn't define your next session.",
        ],
        "it": [
            "Ti capisco. Sentirsi {feeling} fa parte dello sport, e si può allenare.",
            "Bravo che lo affronti. Essere {feeling} non decide la tua prossima sessione.",
        ],
    },
    "analytical": {
        "en": [
            "Let's break this down. Feeling {feeling} here is a normal response, and there are "
            "specific tools that work on it.",
            "What you describe fits a common pattern: when athletes feel {feeling}, a few "
            "concrete changes usually make the biggest difference.",
        ],
        "it": [
            "Analizziamolo. Sentirsi {feeling} in questa situazione è una risposta normale, e "
            "ci sono strumenti precisi per lavorarci.",
            "Quello che descrivi è uno schema comune: quando un atleta si sente {feeling}, "
            "alcuni cambiamenti concreti fanno la differenza.",
        ],
    },
}
NEUTRAL_FEELING = {"en": "this way", "it": "così"}  # "Feeling this way is ..."

LEAD = {
    "en": "Here are {n} things you can try{sport}:",
    "it": "Ecco {n} cose che puoi provare{sport}:",
}
LEAD_ONE = {
    "en": "Here is one thing you can try{sport}:",
    "it": "Ecco una cosa che puoi provare{sport}:",
}
SPORT_FRAME = {
    "en": " around your next {sport} session",
    "it": " nel prossimo allenamento di {sport}",
}
SPORT_IT = {
    "basketball": "basket",
    "football": "calcio",
    "tennis": "tennis",
    "running": "corsa",
    "swimming": "nuoto",
    "cycling": "ciclismo",
    "volleyball": "pallavolo",
    "athletics": "atletica",
    "rugby": "rugby",
}
FOREIGN_SOURCE = {"en": "", "it": " (dalla nostra guida in inglese)"}
CLOSING = {
    "empathetic": {
        "en": "Which of these feels doable for you this week?",
        "it": "Quale di questi ti sembra fattibile questa settimana?",
    },
    "motivational": {
        "en": "Pick one and try it today. Then tell me how it went!",
        "it": "Scegline uno e provalo oggi. Poi raccontami com'è andata!",
    },
    "analytical": {
        "en": "Try one for a week and note what changes; then we can adjust.",
        "it": "Provane uno per una settimana e annota cosa cambia; poi aggiustiamo.",
    },
}
SOURCES = {"en": "Sources", "it": "Fonti"}
HUMAN_OFFER = {
    "en": "If you'd like to talk this through with a human coach, just say so and I'll "
    "connect you.",
    "it": "Se vuoi parlarne con un coach in carne e ossa, dimmelo e ti metto in contatto.",
}
NO_MATERIAL = {
    "en": "I don't have specific material on this yet, so I'd rather not guess. Can you tell "
    "me a bit more about when it happens and how it affects your training?",
    "it": "Su questo non ho ancora materiale specifico e preferisco non improvvisare. Mi "
    "racconti quando succede e come influisce sui tuoi allenamenti?",
}

IMPERATIVE = re.compile(
    r"^(breathe|try|write|pick|set|focus|take|use|keep|notice|say|start|stop|plan|give|ask|"
    r"talk|spend|repeat|go|choose|make|put|name|remind|visuali[sz]e|picture|count|lie|drink|"
    r"eat|limit|avoid|schedule|agree|tell|check|list|decide|practise|practice|rehearse|"
    r"imagine|shift|accept|reframe|let|return|end|begin|build|track|log|review|reach|"
    r"respira|prova|scrivi|scegli|concentrati|usa|fai|ripeti|parla|chiedi|immagina|conta|"
    r"pianifica|inizia|tieni|nota|di'|dì|evita|programma|ricorda|decidi|allenati|accetta|"
    r"riformula|torna|annota|rivedi|contatta|cerca|stabilisci|dedica|metti|lascia|bevi)\b",
    re.IGNORECASE,
)
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*)$")
MARKDOWN = re.compile(r"\*\*|__|`|\[|\]")


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


def detect_feeling(text: str) -> str | None:
    lowered = text.lower()
    for feeling, (cues, _) in FEELINGS.items():
        if any(cue in lowered for cue in cues):
            return feeling
    return None


def _pick(options: list[str], seed: str) -> str:
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return options[digest % len(options)]


def _clean(text: str) -> str:
    text = MARKDOWN.sub("", text).strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) > MAX_STEP_CHARS:
        cut = text.rfind(". ", 0, MAX_STEP_CHARS)
        text = text[: cut + 1] if cut > 60 else text[:MAX_STEP_CHARS].rsplit(" ", 1)[0] + "…"
    return text[0].upper() + text[1:] if text else text


ACTION_HEADING = re.compile(
    r"how|what to do|try|routine|step|practi|technique|plan|tool|exercise|instead|do it|"
    r"come|cosa fare|prova|passi|esercizi|tecnica|piano|strument|pratica|routine",
    re.IGNORECASE,
)
LABEL = re.compile(r"^([A-ZÀ-Üa-zà-ü][\w' -]{1,30}):\s+(.*)$")


def candidate_steps(passage: Passage) -> list[tuple[str, int]]:
    """Actionable lines of a passage with a usefulness score: imperative sentences and
    list items, preferably under a "how to" heading; lists of causes score low."""
    action_section = bool(passage.heading and ACTION_HEADING.search(passage.heading))
    found: list[tuple[str, int]] = []
    for line in passage.content.splitlines():
        match = LIST_ITEM.match(line)
        pieces = [match.group(1).strip()] if match else re.split(r"(?<=[.!?])\s+", line.strip())
        for piece in pieces:
            bare = MARKDOWN.sub("", piece).strip()
            if len(bare) < 30:
                continue
            labelled = LABEL.match(bare)
            body = labelled.group(2) if labelled else bare
            score = 0
            if IMPERATIVE.match(body):
                score += 3
            elif labelled:
                score -= 2  # "Physical: poor sleep, ..." describes, it does not instruct
            if match:
                score += 1
            if len(body) > 60:
                score += 1  # a very short line usually leans on context it does not carry
            if action_section:
                score += 2
            if score >= 2 or (match and action_section):
                found.append((_clean(body), score))
    return found


def _overlap(step: str, query: str) -> int:
    words = {w for w in re.findall(r"\w{4,}", query.lower())}
    return sum(1 for w in re.findall(r"\w{4,}", step.lower()) if w in words)


def _first_sentences(passage: Passage, count: int = 2) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", MARKDOWN.sub("", passage.content)))
    return _clean(" ".join(sentences[:count]))


def choose_steps(request: ComposeRequest, limit: int = 3) -> list[tuple[str, Passage]]:
    """Up to `limit` (step, source passage), at most two per passage, from passages in the
    user's language when they offer any; else the key point of the best passage."""
    advice = [p for p in request.passages if p.category in ADVICE_CATEGORIES]
    own = [p for p in advice if p.language == request.language]
    # the user's language, unless the best answer is only in another one
    first = own if own and advice and own[0] is advice[0] else advice
    whole = request.document_passages or {}
    for pool in (first, advice):
        chosen: list[tuple[str, Passage]] = []
        for ranked in pool[:3]:
            steps = [
                (step, score, passage)
                for passage in whole.get(ranked.document_id, [ranked])
                for step, score in candidate_steps(passage)
            ]
            steps.sort(key=lambda item: -(item[1] + _overlap(item[0], request.query)))
            for step, _, passage in steps[:2]:
                if len(chosen) < limit and step not in [c[0] for c in chosen]:
                    chosen.append((step, passage))
        if chosen:
            return chosen
    if advice:
        return [(_first_sentences(advice[0]), advice[0])]
    return []


def compose(request: ComposeRequest) -> tuple[str, list[Passage]]:
    """The reply text and the passages it cites (in citation order)."""
    lang = request.language if request.language in ("en", "it") else "en"
    personality = request.personality if request.personality in VALIDATION else "empathetic"
    feeling = detect_feeling(request.query)
    feeling_words = FEELINGS[feeling][1][lang] if feeling else NEUTRAL_FEELING[lang]
    seed = request.query + personality
    parts = [_pick(VALIDATION[personality][lang], seed).format(feeling=feeling_words)]

    steps = choose_steps(request)
    if not steps:
        parts.append(NO_MATERIAL[lang])
        if request.offer_human:
            parts.append(HUMAN_OFFER[lang])
        return "\n\n".join(parts), []

    cited: list[Passage] = []
    for _, passage in steps:
        if passage.document_id not in [c.document_id for c in cited]:
            cited.append(passage)
    number = {passage.document_id: index for index, passage in enumerate(cited, 1)}
    sport = ""
    if request.sport:
        name = SPORT_IT.get(request.sport, request.sport) if lang == "it" else request.sport
        sport = SPORT_FRAME[lang].format(sport=name.replace("_", " "))
    lead = (LEAD[lang] if len(steps) > 1 else LEAD_ONE[lang]).format(n=len(steps), sport=sport)
    foreign = [passage.language != lang for _, passage in steps]
    if all(foreign):
        lead = lead.rstrip(":") + FOREIGN_SOURCE[lang] + ":"
    lines = [
        f"{index}. {text} [{number[passage.document_id]}]"
        + (f" ({passage.language.upper()})" if foreign[index - 1] and not all(foreign) else "")
        for index, (text, passage) in enumerate(steps, 1)
    ]
    parts.append(lead + "\n" + "\n".join(lines))
    parts.append(CLOSING[personality][lang])
    if request.offer_human:
        parts.append(HUMAN_OFFER[lang])
    parts.append(
        f"{SOURCES[lang]}: " + "; ".join(f"[{i}] {p.title}" for i, p in enumerate(cited, 1))
    )
    return "\n\n".join(parts), cited


CRISIS_TEXT = {
    "en": (
        "I'm really glad you told me, and I'm taking what you said seriously. Your safety "
        "matters more than anything else right now.\n\n"
        "If you are in danger or might act on these thoughts, please contact emergency help "
        "now:\n{resources}\n\n"
        "I've asked one of our human coaches to reach out to you as a priority. You don't "
        "have to go through this alone: if you can, tell someone you trust who is near you "
        "and stay with them.\n\nAre you safe right now?"
    ),
    "it": (
        "Sono davvero contento che tu me l'abbia detto, e prendo sul serio quello che hai "
        "scritto. La tua sicurezza ora conta più di ogni altra cosa.\n\n"
        "Se sei in pericolo o temi di agire su questi pensieri, contatta subito un aiuto di "
        "emergenza:\n{resources}\n\n"
        "Ho chiesto a uno dei nostri coach di contattarti con priorità. Non devi affrontarlo "
        "da solo: se puoi, avvisa una persona di fiducia vicino a te e resta con lei.\n\n"
        "Adesso sei al sicuro?"
    ),
}


def crisis_reply(language: str, resources: list[EmergencyResource]) -> str:
    lang = language if language in CRISIS_TEXT else "en"
    listed = "\n".join(f"- {r.name} ({r.organisation}): {r.contact}" for r in resources)
    return CRISIS_TEXT[lang].format(resources=listed)
