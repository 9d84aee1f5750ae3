"""Post-processing of generated replies: no diagnoses, no medication advice.

A model may still slip; a sentence that names a dose or diagnoses the user is
replaced by a pointer to the team doctor, in the user's language.
"""

from __future__ import annotations

import re

MEDICATION = re.compile(
    r"\b(\d+\s?(mg|milligrams?|ml|mcg)\b|take (some |an? )?(ibuprofen|paracetamol|acetaminophen|"
    r"aspirin|melatonin|sleeping pills?|antidepressants?|benzodiazepines?|xanax|valium)|"
    r"prendi (dell[ao']? ?|un[ao]? )?(ibuprofene|paracetamolo|tachipirina|aspirina|melatonina|"
    r"sonniferi|antidepressivi|ansiolitici|xanax|valium))",
    re.IGNORECASE,
)
DIAGNOSIS = re.compile(
    r"\b(you (have|are suffering from|suffer from) (clinical )?(depression|an? anxiety disorder|"
    r"ptsd|bipolar|an eating disorder|adhd|ocd|insomnia disorder)|"
    r"(hai|soffri di) (la |un[ao]? |il )?(depressione|disturbo d'ansia|disturbo alimentare|"
    r"ptsd|disturbo bipolare))",
    re.IGNORECASE,
)
SAFE_LINE = {
    "en": "For anything about medication or a diagnosis, please talk to your team doctor.",
    "it": "Per farmaci o diagnosi, parlane con il medico della squadra.",
}


def sanitize(text: str, language: str) -> tuple[str, bool]:
    """The text without unsafe sentences, and whether anything was removed."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = [s for s in sentences if not (MEDICATION.search(s) or DIAGNOSIS.search(s))]
    if len(kept) == len(sentences):
        return text, False
    kept.append(SAFE_LINE.get(language, SAFE_LINE["en"]))
    return " ".join(kept), True


HUMAN_REQUEST = re.compile(
    r"\b(talk|speak|chat) (to|with) (a |an )?(real |actual )?(human|person|coach|someone real)|"
    r"human coach|real person|parlare con (un|una) (persona|coach|allenatore|psicologo)|"
    r"persona vera|coach umano",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    return bool(HUMAN_REQUEST.search(text))
