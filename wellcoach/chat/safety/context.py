"""What lifts or masks a crisis rule: sports idioms, negations, and statements about the
past ("I used to self-harm, two years clean now"), on the normalised text.

Idioms mask the ambiguous words they explain, for the weak rules and for the second
layer. A negation just before a negatable statement lifts it. A recovered statement
(a past marker, a recovery marker and nothing about now) lifts every rule; a distant
time marker right next to a medical sign ("fainted once two years ago") lifts that sign.
"""

from __future__ import annotations

import re

SPORT_CONTEXT = (
    r"(game|match|final|court|pitch|field|1v1|one on one|scoreboard|saturday|"
    r"sunday|tomorrow night|on the track|in the ring|partita|gara|campo|sabato|domenica|"
    r"finale|1 contro 1|uno contro uno)"
)
EXERCISE = (
    r"(sprints|suicides|squats|lunges|burpees|wall sits|box jumps|intervals|reps|sets|leg day|"
    r"ripetute|scatti|affondi|serie|salite|balzi)"
)
LAUGHTER = r"(lol|lmao|haha\w*|ahah\w*|xd|rofl)"

# Sports idioms and hyperbole: masked before the weak rules and the second layer run.
IDIOMS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(regex)
    for regex in (
        r"\b(drill|drills|workout|session|training|practice|run|race|climb|hill|set|sets|reps|"
        r"schedule|coach|heat|sprints?|legs?|calves|quads|exam|week|season)\b[\w\s]{0,25}"
        r"\b(is|are|was|were)\s+(literally\s+)?(killing|murdering)\s+me\b",
        r"\b(killing|killed|crushed|crushing|murder\w*|destroy\w*)\s+(it|the (pace|clock|game|"
        r"session|workout|drill|set|race|competition|interval\w*)|this (workout|session|drill|"
        r"set|race)|them)\b",
        r"\bkill (the )?(clock|time|the ball|the pace|this workout|this session|the drill)\b",
        r"\bshoot to kill\b|\bkiller (instinct|workout|session)\b|\bsuicide (sprints?|runs?|"
        r"drills?|lines?)\b|\b(doing|did|ran|run) suicides\b|\bsuicides (drill|in practice)\b",
        r"\b(dying|die) (to|for) (play|get|a |this|win|start)\w*\b|\bdead (tired|legs)\b|"
        r"\b(legs|arms|body) (are|is|feel|feels) dead\b|\bi(m| am) dead\b|\bdied (on|at) the\b",
        r"\b(mi|ci) sta(nno)? (uccidendo|ammazzando|distruggendo)\b|\bsono mort[oa]\b|"
        r"\b(gambe|braccia) mort[ea]\b|\bmorto di (fatica|sonno|stanchezza)\b|"
        r"\bmuoio (dalla voglia|di (caldo|fame|fatica|sonno|stanchezza))\b|"
        r"\b(ammazzato|uccis[oa]|distrutt[oa]|chius[oa]) la partita\b|"
        r"\bli abbiamo (distrutti|ammazzati|massacrati|asfaltati)\b|\bci massacra\b",
        r"\b(e|era|e stato|sarebbe|sembra|fu) (stato )?un (vero )?suicidio\b",
        r"\boverdos\w* (on|of|di) (highlights?|videos?|netflix|coffee|caffeine|sugar|carbs|pasta|"
        r"pizza|chocolate|content|tiktok|memes|film|serie)\b",
        r"\b(kill|hurt|murder|destroy|crush)\s+(him|her|them)\b.{0,30}" + SPORT_CONTEXT,
        r"\b(lo|la|li) (ammazzo|uccido|distruggo|massacro)\b.{0,30}" + SPORT_CONTEXT,
        # a drill "is suicide"; suicide as a topic (prevention talks, hotlines)
        r"\b(drills?|session|workout|run|training|schedule|pace|practice|circuit|intervals?|"
        r"conditioning|hill|climb)\b[\w\s]{0,15}\b(is|was|are|were)\s+(pure |literally |"
        r"basically |absolute |just )?suicide\b",
        r"\bsuicide (prevention|awareness|hotline|helpline|statistics|rates?|squad)\b|"
        r"\b(prevenzione|sensibilizzazione|campagna|giornata|numero) (del |sul |contro il |"
        r"anti )?suicidio\b",
        # numb legs after a hard set, said laughing
        r"\b(cant|cannot) feel my (legs|arms|quads|calves|glutes|abs|hamstrings)\b"
        r"(\s+\w+){0,3}\s+" + LAUGHTER + r"\b",
        r"\b" + EXERCISE + r"\b.{0,40}\b(cant|cannot) feel my (legs|arms|quads|calves|glutes|"
        r"abs|hamstrings)\b|\bnon (mi )?sento piu le (gambe|braccia)\b.{0,15}\b(dopo (le|gli|"
        r"i|la|lo) " + EXERCISE + r"|" + LAUGHTER + r")\b",
    )
)

NEGATION = re.compile(
    r"(\bnever\b|\bwould ?nt\b|\bwould not\b|\bwont\b|\bwill not\b|\bnot going to\b|"
    r"\bno way (i|id)\b|\bno intention\b|\bmai\b|\bnon (lo |mi |ti )?farei\b|"
    r"\bnon ho intenzione di\b|\bnon penso di\b)(\W+\w+){0,4}\W*$"
)

# "I would never hurt myself": a negated statement the similarity layer must not flip
NEGATED_STATEMENT = re.compile(
    r"\b(never|wouldnt|would not|wont|will not|not going to|no way id?|dont want to)\b"
    r"(\W+\w+){0,3}\W+(hurt|harm|kill|cut|end|off)\w*\s+(my\s*self|myself|my life|it all)\b"
    r"|\bnon (mi )?(farei|faro|farei mai|faro mai) (mai )?(del )?male\b"
    r"|\bmai (farmi del male|uccidermi|ammazzarmi|togliermi la vita)\b"
    r"|\bnon (mi )?(toglierei|ucciderei|ammazzerei) mai\b|\bmai (mi )?(toglierei|ucciderei|"
    r"ammazzerei)\b"
)

# A statement about the past, told as over: "struggled with it last year, therapy helped",
# "sono due anni che non mi faccio del male". Anything about now keeps the rules live.
PAST = re.compile(
    r"\b(last (year|season|summer|winter|spring)|(\d+|a|one|two|three|four|five|six|a few|a "
    r"couple of|couple of|several|many) (years?|months?) ago|used to|in the past|back in "
    r"(high school|school|the day|\d{4})|when i was (younger|a kid|a teen\w*|in (high )?school|"
    r"\d+)|(for|since) (\d+|two|three|four|five|six|several|many) (years|months)|"
    r"l ?anno scorso|la stagione scorsa|la scorsa stagione|(\w+ )?(anni|anno|mesi|mese) fa|"
    r"in passato|da piccol[oa]|"
    r"quando ero (piccol[oa]|ragazzin[oa]|al liceo|alle medie)|(sono|e) (\w+ )?(anni|mesi) che"
    r"|da (\w+ )?(anni|mesi))\b"
)
RECOVERED = re.compile(
    r"\b(clean|better now|doing (well|better|good|great|fine|ok)|proud|therapy|therapist|"
    r"counsel\w*|got help|getting help was|helped|recovered|survived|in a good place|"
    r"(im|i am) (ok|okay|fine|good) now|sto (bene|meglio)|ne vado fier[oa]|fier[oa]|"
    r"psicolog\w*|terapia|terapeuta|chiesto aiuto|chiedere aiuto|(mi )?(ha|hanno) aiutat[oa]|"
    r"ne sono (uscit[oa]|fuori)|guarit[oa]|superat[oa])\b"
)
NOW = re.compile(
    r"\b(tonight|right now|again|relaps\w*|today|this week|lately|these days|still|"
    r"stasera|stanotte|adesso|di nuovo|ricaduta|ricominciat\w*|ultimamente|in questi giorni|"
    r"oggi|ancora)\b"
)
# a medical sign with a distant time next to it: "fainted once two years ago"
DISTANT_BEFORE = re.compile(
    r"\b((\w+ )?(anni|anno|mesi|mese) fa|l ?anno scorso|last (year|season)|years ago|months ago)\W+"
    r"(\w+\W+){0,2}$"
)
DISTANT_AFTER = re.compile(
    r"^\W+(\w+\W+){0,2}((\d+|a|one|two|three|four|five|a few|a couple of|several) (years?|"
    r"months?) ago|last (year|season)|(\w+ )?(anni|anno|mesi|mese) fa|l ?anno scorso)\b"
)


def recovered(normalized: str) -> bool:
    """A past statement told as over, with nothing said about now."""
    return bool(
        PAST.search(normalized) and RECOVERED.search(normalized) and not NOW.search(normalized)
    )


def distant(normalized: str, start: int, end: int) -> bool:
    """A distant time marker within a couple of words of the match."""
    return bool(
        DISTANT_BEFORE.search(normalized[max(0, start - 40) : start])
        or DISTANT_AFTER.search(normalized[end : end + 40])
    )
