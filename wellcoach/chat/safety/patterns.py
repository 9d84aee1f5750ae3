"""The crisis rules, English and Italian, as data.

Each rule has a name, a category, a score and a regular expression run on the
normalised text (casefolded, accents and apostrophes removed, repeated letters
squeezed). `strong` rules are explicit statements: sports idioms never mask them.
`weak` rules are ambiguous words; they run on the text with idioms masked out.
`negatable` rules give way to a negation just before them ("I would never ...").
The idioms, negations and past markers are in context.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUICIDAL = "suicidal_ideation"
SELF_HARM = "self_harm"
OVERDOSE = "overdose"
MEDICAL = "medical_emergency"
ABUSE = "abuse"
HARM_OTHERS = "harm_to_others"


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    score: float
    pattern: re.Pattern[str]
    strong: bool = True
    negatable: bool = False


def rule(name: str, category: str, score: float, regex: str, **flags: bool) -> Rule:
    return Rule(name, category, score, re.compile(regex), **flags)


PILLS_EN = (
    r"(pills?|tablets?|meds|medications?|painkillers?|sleeping pills|paracetamol|"
    r"ibuprofen|tylenol|xanax|antidepressants?|insulin)"
)
PILLS_IT = (
    r"(pillole|pastiglie|compresse|farmaci|medicine|medicinali|sonniferi|"
    r"antidolorifici|tachipirine?|ansiolitici|antidepressivi|gocce)"
)

# "wanted to die on the last set": the effort, not the life
NOT_EFFORT = (
    r"(?!\s+(on|during)\s+(the|that|this|those|these|every)\s+(\w+\s+)?(set|sets|rep|reps|"
    r"lap|laps|climb|hill|sprints?|intervals?|session|workout|drill)\b)"
)

RULES: tuple[Rule, ...] = (
    # -- suicidal ideation, English ------------------------------------------------
    rule(
        "en_kill_myself",
        SUICIDAL,
        0.97,
        r"\b(kill|killing|hang|hanging|shoot|shooting|off|offing)\s*(my\s*self|myself)\b",
        negatable=True,
    ),
    rule("en_kms", SUICIDAL, 0.9, r"\bkms\b"),
    rule(
        "en_end_my_life",
        SUICIDAL,
        0.97,
        r"\b(end|ending|take|taking)\s+(my|my own)\s+life\b|\bend it all\b|\bend(ing)? things\b",
        negatable=True,
    ),
    rule(
        "en_want_to_die",
        SUICIDAL,
        0.95,
        r"\b(want|wanna|wanted|going|gonna|plan(ning)?|ready|decided|tempted)\s+(to\s+)?"
        r"(die|end it|not be alive|not exist|disappear forever|be dead)\b" + NOT_EFFORT,
    ),
    rule(
        "en_not_alive",
        SUICIDAL,
        0.95,
        r"\b(dont|do not|no longer|never)\s+(want|wanna)\s+to\s+(be alive|live|exist|"
        r"wake up|be here|go on)\b",
    ),
    rule(
        "en_no_point",
        SUICIDAL,
        0.85,
        r"\b(no|not any|dont see the|dont see any|whats the)\s+(point|reason)\s+"
        r"(in\s+|to\s+|of\s+)?"
        r"(living|live|life|being alive|going on|keep going|carrying on|being here)\b",
    ),
    rule(
        "en_better_off",
        SUICIDAL,
        0.9,
        r"\b(better off (dead|without me|if i (was|were) gone|if i wasnt here))\b",
    ),
    rule(
        "en_wish_dead",
        SUICIDAL,
        0.9,
        r"\bwish i (was|were) dead\b|\bwish i (could )?(never wake up|wasnt born|"
        r"didnt exist|was never born)\b|\bwant to sleep (forever|and never wake up)\b",
    ),
    rule(
        "en_cant_go_on",
        SUICIDAL,
        0.65,
        r"\b(cant|cannot) (go on|keep going|do (this|life) anymore) (living|like this|anymore)\b"
        r"|\bcant live like this\b|\btired of (living|being alive|life)\b",
    ),
    rule("en_suicide", SUICIDAL, 0.85, r"\bsuicid(e|al)\b", strong=False),
    rule(
        "en_third_party",
        SUICIDAL,
        0.85,
        r"\b(kill|killing|hurt|hurting|cut|cutting|end)\s+(him|her|them)sel(f|ves)\b"
        r"|\b(wants|wanted|talks about|talking about|said he|said she)\b.{0,20}\b(to die|"
        r"ending it|end (his|her) life)\b" + NOT_EFFORT,
    ),
    rule(
        "en_goodbye",
        SUICIDAL,
        0.7,
        r"\b(goodbye (everyone|forever)|this is my last (message|goodbye)|"
        r"giving away my (stuff|things)|wrote (a|my) (suicide )?note)\b",
    ),
    # -- suicidal ideation, Italian -------------------------------------------------
    rule(
        "it_farla_finita",
        SUICIDAL,
        0.93,
        r"\bfarla finita\b(?!\s+con\s+(il|lo|la|questo|questa|"
        r"sto|sta|gli|le|i)\s+(calcio|basket|tennis|sport|squadra|allenament\w*|pallavolo|"
        r"nuoto|corsa|ciclismo|club))",
    ),
    rule(
        "it_morire",
        SUICIDAL,
        0.95,
        r"\b(voglio|vorrei|penso di|sto pensando di|ho deciso di|mi viene voglia di|voglia di)\s+"
        r"(morire|uccidermi|ammazzarmi|suicidarmi|togliermi la vita|sparire per sempre|"
        r"non esserci piu|non svegliarmi piu)\b",
    ),
    rule(
        "it_uccidermi",
        SUICIDAL,
        0.95,
        r"\b(uccidermi|ammazzarmi|suicidarmi|impiccarmi|togliermi la vita|buttarmi (giu|sotto|"
        r"dal|da un|dalla|dal ponte)|lanciarmi (dal|da un|sotto))\b",
        negatable=True,
    ),
    rule(
        "it_non_vivere",
        SUICIDAL,
        0.93,
        r"\bnon (voglio|ho voglia di|ce la faccio (piu )?a|riesco (piu )?a) (piu )?"
        r"(vivere|stare al mondo|andare avanti a vivere|esistere)\b",
    ),
    rule(
        "it_senso",
        SUICIDAL,
        0.85,
        r"\bnon (ha|avrebbe|ce) (piu )?(senso|motivo)( di)? (vivere|continuare a vivere|"
        r"andare avanti|restare|stare qui|esistere)\b|\bnessun (senso|motivo) (di|per) vivere\b",
    ),
    rule(
        "it_meglio_senza",
        SUICIDAL,
        0.9,
        r"\b(sarebbe|sarebbero|starebbero|stareste|staresti) (tutti )?meglio "
        r"(se non ci fossi|senza di me|se sparissi|se morissi)\b",
    ),
    rule(
        "it_vorrei_non",
        SUICIDAL,
        0.9,
        r"\bvorrei (non )?(essere mort[oa]|non (svegliarmi|essere nat[oa]|esistere|esserci))\b",
    ),
    rule(
        "it_third_party",
        SUICIDAL,
        0.85,
        r"\b(vuole|vorrebbe|pensa di|dice di voler|parla di)\s+(uccidersi|ammazzarsi|"
        r"suicidarsi|farla finita|togliersi la vita|morire)\b|\bsi vuole (uccidere|ammazzare)\b",
    ),
    rule("it_suicidio", SUICIDAL, 0.85, r"\bsuicid(io|arsi|armi|a)\b", strong=False),
    rule(
        "it_addio",
        SUICIDAL,
        0.7,
        r"\b(addio a tutti|questo e il mio ultimo messaggio|ho scritto una lettera d ?addio)\b",
    ),
    # -- self-harm --------------------------------------------------------------------
    rule(
        "en_cut_myself",
        SELF_HARM,
        0.95,
        r"\b(cut|cutting|cuts|burn|burning|burnt|harm|harming|scratch|scratching|punish|"
        r"punishing|starve|starving)\s+(my\s*self|myself)\b|\bself[- ]?harm\w*\b",
        negatable=True,
    ),
    rule(
        "en_hurt_on_purpose",
        SELF_HARM,
        0.9,
        r"\b(hurt|hurting|hit|hitting|punch|punching)\s+(my\s*self|myself)\s+(on purpose|"
        r"deliberately|again|to feel)\b|\b(want|wanna|going|gonna|need) to (hurt|hit|punch)\s+"
        r"(my\s*self|myself)\b|\brazor\b.{0,30}\b(arm|wrist|leg|skin)\b",
        negatable=True,
    ),
    rule(
        "it_tagliarmi",
        SELF_HARM,
        0.95,
        r"\bmi (taglio|tagliavo|sono tagliat[oa]|brucio|bruciavo|ferisco|graffio|punisco)\b"
        r"(?! (i capelli|la barba|le unghie|il dito|un dito|con la carta))"
        r"|\b(tagliarmi|bruciarmi|ferirmi|autolesion\w*)\b",
        negatable=True,
    ),
    rule(
        "it_farmi_male",
        SELF_HARM,
        0.9,
        r"\b(voglio|vorrei|devo|ho bisogno di) farmi (del )?male\b|\bfarmi (del )?male "
        r"(apposta|di proposito|da sol[oa])\b|\bmi faccio (del )?male (apposta|da sol[oa]|"
        r"di proposito)\b",
    ),
    # -- overdose -----------------------------------------------------------------------
    rule(
        "en_overdose",
        OVERDOSE,
        0.95,
        r"\b(took|taken|swallowed|ate|downed|take|taking|gonna take|going to take)\s+"
        r"(all|all of|a (whole )?(bottle|bunch|handful|box|pack|strip)( of)?|too many|loads of|"
        r"lots of|a lot of|\d{2,}|twenty|thirty|forty|fifty)\s+(my\s+|the\s+|his\s+|her\s+|"
        r"of\s+(my|the)\s+)?" + PILLS_EN + r"\b",
    ),
    rule("en_od", OVERDOSE, 0.9, r"\b(overdos(e|ed|ing)|od'?d|od'?ing)\b", strong=False),
    rule(
        "it_overdose",
        OVERDOSE,
        0.95,
        r"\b(ho preso|ho ingoiato|ho mandato giu|ho buttato giu|prendo|sto per prendere|"
        r"voglio prendere|ha preso)\s+(tutte|tutti|un (intero )?(flacone|blister|tubetto|boccetta)|"
        r"una (intera )?scatola|troppe|troppi|\d{2,}|venti|trenta|cinquanta)\s+"
        r"(le |i |di |delle |dei |quell[ea] )?" + PILLS_IT + r"\b",
    ),
    rule("it_overdose_word", OVERDOSE, 0.9, r"\boverdose\b"),
    # -- medical emergency ------------------------------------------------------------
    rule(
        "en_chest_pain",
        MEDICAL,
        0.8,
        r"\b(chest pain|pain in my chest|chest (is |feels )?(tight|crushing|heavy|hurts|"
        r"hurting)|crushing pain)\b",
    ),
    rule(
        "en_cant_breathe_plus",
        MEDICAL,
        0.85,
        r"\b(cant|cannot|can not|struggling to|hard to) (breathe|catch (my|his|her) breath)\b"
        r".{0,60}\b(chest|faint|dizzy|collaps\w*|lips|blue|help|ambulance|passing out|"
        r"black(ing)? out)\b|\b(chest|faint|dizzy|collaps\w*|lips|blue)\b.{0,60}\b(cant|cannot|"
        r"can not|struggling to|hard to) breathe\b",
    ),
    rule(
        "en_collapse",
        MEDICAL,
        0.85,
        r"\b(collapsed|passed out|fainted|unconscious|not breathing|isnt breathing|stopped "
        r"breathing|seizure|convuls\w*|fitting on the|wont wake up|not waking up|unresponsive|"
        r"blue lips|lips (are|went|turned) blue|heart attack|having a stroke|call an ambulance|"
        r"need an ambulance|call 911|call 999|call 112|bleeding (a lot|heavily|badly|wont stop)|"
        r"anaphyla\w*|throat (is )?closing)\b",
    ),
    rule(
        "it_petto",
        MEDICAL,
        0.8,
        r"\b(dolore al petto|male al petto|petto (che )?(mi )?(stringe|schiaccia|fa male)|"
        r"oppressione al petto)\b",
    ),
    rule(
        "it_respiro_plus",
        MEDICAL,
        0.85,
        r"\bnon (riesco a )?respir\w*\b.{0,60}\b(petto|svengo|svenire|giramenti|labbra|"
        r"aiuto|ambulanza|blu)\b|\b(petto|svengo|svenire|giramenti|labbra)\b.{0,60}\bnon "
        r"(riesco a )?respir\w*",
    ),
    rule(
        "it_svenuto",
        MEDICAL,
        0.85,
        r"\b(svenut[oa]|ha perso i sensi|sono svenut[oa]|non si sveglia|non risponde piu|"
        r"non respira|convulsioni|crisi epilettica|chiamate? (un |l ?)?ambulanza|chiamare il 118|"
        r"chiamate il 118|infarto|ictus|perde (molto |tanto |tantissimo |parecchio |un sacco di )?"
        r"sangue|sangue che non si ferma|"
        r"labbra (blu|viola)|shock anafilattico|gola che si chiude)\b",
    ),
    # -- abuse ----------------------------------------------------------------------------
    rule(
        "en_abuse_act",
        ABUSE,
        0.9,
        r"\b(coach|trainer|manager|physio|doctor|dad|father|mom|mum|mother|stepdad|stepfather|"
        r"stepmom|uncle|brother|boyfriend|girlfriend|partner|husband|wife|teammate|captain|"
        r"he|she|they|someone|a man|an adult|older player|staff)\b.{0,40}\b(hits|hit|beats|beat|"
        r"slaps|slapped|punches|punched|kicks|kicked|chokes|choked|strangl\w*|touches|touched|"
        r"touching|grabs|grabbed|molest\w*|rap(e|ed|es)|forces|forced|threaten\w*|locks|locked)"
        r"\s+(me|my|us)\b",
    ),
    rule(
        "en_abuse_words",
        ABUSE,
        0.9,
        r"\b(sexually (abus|assault|harass)\w*|abus(ed|ing|es) me|groom(ed|ing) me|rap(ed|e) me|"
        r"molest(ed|ing) me|touch(es|ed)? me (inappropriately|where|down there|when)|"
        r"(makes|made|asks|asked|forces|forced) me (send|to send) (nudes|pictures|photos)|"
        r"i (am|was|m) being (abused|hit at home|beaten)|afraid to go home)\b",
    ),
    rule(
        "it_abuso_atto",
        ABUSE,
        0.9,
        r"\b(mi|ci) (picchia|picchiano|picchiava|ha picchiat\w*|hanno picchiat\w*|mena|menano|"
        r"prende a (schiaffi|calci|pugni)|ha preso a (schiaffi|calci|pugni)|molesta|molestava|"
        r"ha molestat\w*|violenta|ha violentat\w*|minaccia|minacciava|costringe a|obbliga a "
        r"(spogliarmi|mandare|fare sesso|toccar)|chiude in|ha toccat[oa]|toccava|"
        r"tocca (il |la |le |i |sotto|dove|nelle|in modo|quando siamo soli|di nascosto))\b",
    ),
    rule(
        "it_abuso_parole",
        ABUSE,
        0.9,
        r"\b(abus(i|o|ato|ata) (sessual\w*|su di me)|abusa di me|ha abusato di me|"
        r"molestie|violenza sessuale|mi chiede (foto|nudi)|ho paura di tornare a casa)\b",
    ),
    # -- harm to others ---------------------------------------------------------------
    rule(
        "en_harm_others",
        HARM_OTHERS,
        0.8,
        r"\b(going to|gonna|want to|wanna|will|ill|plan to|planning to|about to)\s+"
        r"(kill|stab|shoot|hurt|beat up|murder|attack|strangle|break (his|her) (legs|neck|face))"
        r"\s+(him|her|that (guy|girl|kid|ref|coach)|my (coach|teammate|dad|brother|ex)|"
        r"someone|everyone|people|them all)\b",
        strong=False,
    ),
    rule(
        "en_weapon",
        HARM_OTHERS,
        0.85,
        r"\b(bring|brought|bringing|have|got|carry|carrying|buy|bought)\s+(a |my |his )?"
        r"(knife|gun|weapon|blade)\b.{0,40}\b(school|practice|training|game|him|her|them|"
        r"locker|tomorrow)\b",
    ),
    rule(
        "it_fare_male",
        HARM_OTHERS,
        0.8,
        r"\b(gli|le) (faccio|faro|voglio fare|vorrei fare) (del |molto )?male\b"
        r"|\b(lo|la) (ammazzo|uccido|accoltello|ammazzero|uccidero|faccio fuori)\b",
        strong=False,
    ),
    rule(
        "it_arma",
        HARM_OTHERS,
        0.85,
        r"\b(porto|portero|ho portato|compro|ho comprato)\s+(un |il |una )?(coltello|pistola|"
        r"arma|lama)\b",
    ),
)

EXTRA_RULES: tuple[Rule, ...] = (
    # -- suicidal: places, plans, letters, worth ------------------------------------------
    rule(
        "en_jump",
        SUICIDAL,
        0.9,
        r"\b(thinking (about|of)|going to|gonna|want to|wanna) (jump|jumping)\b|\bstanding on "
        r"(the|a) (bridge|roof|ledge|edge)\b",
    ),
    rule(
        "it_buttarmi",
        SUICIDAL,
        0.9,
        r"\b(penso|pensando|voglio|vorrei) (di )?(buttarmi|lanciarmi|saltare giu)\b|\b(sono )?"
        r"(sul|sopra il) (ponte|tetto|cornicione)\b.{0,40}\b(buttarmi|saltare|finirla)\b",
    ),
    rule(
        "it_la_faccio_finita",
        SUICIDAL,
        0.93,
        r"\b(la|lo) (faccio|faro|voglio fare) finita\b|\bmi (ammazzo|uccido|sparo|impicco)\b",
        negatable=True,
    ),
    rule(
        "en_letter",
        SUICIDAL,
        0.9,
        r"\b(goodbye|farewell|suicide) (letter|note)\b|\blettera (di |d ?)addio\b",
    ),
    rule(
        "en_not_worth",
        SUICIDAL,
        0.88,
        r"\blife (isnt|is not|aint|wont be) worth (it|living)\b|\b(not|isnt) worth living\b|"
        r"\bla vita non (vale|ha) (piu )?(la pena|niente|senso)\b",
    ),
    rule(
        "en_ending_it",
        SUICIDAL,
        0.8,
        r"\b(im|i am|ill|i will|gonna|going to|then i ll) end(ing)? it\b(?! with)",
    ),
    rule(
        "it_preparato",
        SUICIDAL,
        0.7,
        r"\b(ho (gia )?preparato tutto|ho deciso come)\b.{0,40}"
        r"\b(stasera|stanotte|domani|per sempre)\b"
        r"|\b(stasera|stanotte)\b.{0,40}\bho (gia )?preparato tutto\b",
    ),
    # -- self-harm ------------------------------------------------------------------------
    rule(
        "en_urge_cut",
        SELF_HARM,
        0.85,
        r"\b(urge|need|want|wanna) to (cut|burn|bleed)\b(?!\s+(\w+\s+)?(players?|people|guys|"
        r"girls|the squad|the roster|weight|kg|pounds|lbs|carbs|calories|fat|sugar|brakes|time|"
        r"seconds|down|back|hair|nails|tape|laps?|corners?)\b)"
        r"|(?<!skate )(?<!skates )(?<!shoulder )\b(blade|razor|lametta|lamette)\b",
    ),
    rule(
        "en_harm_acts",
        SELF_HARM,
        0.85,
        r"\b(punch(ing)?|hit(ting)?|slap(ping)?|bang(ing)?|burn(ing)?) (my (own )?(head|arm|arms|"
        r"wrist|wrists|legs|skin|face)|myself)\b.{0,40}\b(on purpose|deliberately|when|till|until|"
        r"lighter|nobody knows|every time|again)\b|\bburn my (arm|skin|wrist|leg)s?\b",
    ),
    rule(
        "it_harm_acts",
        SELF_HARM,
        0.85,
        r"\bmi faccio (del )?male\b|\bmi prendo a (pugni|schiaffi)\b|\bfarmi (i )?lividi\b|"
        r"\bsbatto la testa\b|\bmi brucio (il braccio|la pelle|con)\b|\bcon l ?accendino\b",
    ),
    # -- overdose ----------------------------------------------------------------------------
    rule(
        "en_overdose_loose",
        OVERDOSE,
        0.9,
        r"\b(took|taken|swallowed|downed|ate|ho preso|ho ingoiato|mandato giu|buttato giu)\s+"
        r"(\w+\s+){0,4}(all|too many|way too many|like \d+|\d+|a bunch|loads|tutte|tutti|troppe|"
        r"troppi|un sacco|apposta|on purpose)\s+(\w+\s+){0,4}"
        + PILLS_EN[:-1]
        + "|"
        + PILLS_IT[1:]
        + r"\b",
    ),
    rule(
        "en_pills_alcohol",
        OVERDOSE,
        0.85,
        "(" + PILLS_EN[1:-1] + "|" + PILLS_IT[1:-1] + r").{0,40}\b(vodka|alcohol|booze|whisky|"
        r"alcol|grappa|birre)\b",
    ),
    # -- medical ------------------------------------------------------------------------------
    rule(
        "en_heat",
        MEDICAL,
        0.8,
        r"\b(stopped sweating|not sweating anymore|non suda piu|ha smesso di sudare)\b|"
        r"\b(talking nonsense|making no sense|not making sense|dice cose senza senso|"
        r"e confus[oa] e)\b",
    ),
    rule(
        "en_faint",
        MEDICAL,
        0.75,
        r"\b(gonna|going to|about to|might|feel like i m|feel like im|feel like ill) "
        r"(faint|pass out|black out|collapse)\b|\b(mi sento|sto per|come se stessi per) svenire\b",
    ),
    rule(
        "en_numb",
        MEDICAL,
        0.85,
        r"\b(cant|cannot) (feel|move) my (hands|arms?|legs|feet|fingers|face)\b"
        r"|\bnon (sento|muovo) (piu )?(le mani|le gambe|i piedi|le braccia|le dita)\b"
        r"|\bcrack\b.{0,20}\b(neck|collo)\b",
        strong=False,  # "cant feel my legs lmao" after sprints: idioms may mask it
    ),
    rule(
        "en_allergy",
        MEDICAL,
        0.85,
        r"\bthroat (feels |is )?(tight|closing|swelling)\b|\b(face|lips|tongue) (is |are )?"
        r"swelling\b|\bswelling up\b|\bgola (che )?(si chiude|gonfia|stretta)\b|\bmi si gonfia\b",
    ),
    rule(
        "en_cardiac",
        MEDICAL,
        0.85,
        r"\b(pressure|weight|tightness|squeezing) (in|on) (my |the )?chest\b|\bpressione sul "
        r"petto\b|\b(left arm|braccio sinistro)\b.{0,30}\b(hurts|pain|numb|fa male|malissimo|"
        r"formicol\w*)\b",
    ),
    rule(
        "en_head_injury",
        MEDICAL,
        0.85,
        r"\b(hit|bang|knock|blow|botta|colpo|testata)\b.{0,30}\b(head|testa)\b.{0,60}\b(vomit\w*|"
        r"throwing up|threw up|blurry|double|cant remember|confused|vomito|vedo doppio|non ricordo|"
        r"confus\w*)\b",
    ),
    rule(
        "open_fracture",
        MEDICAL,
        0.85,
        r"\bbone (is )?(sticking|poking|coming) out\b|\b(can|could) see (the |his |her |my )?"
        r"bone\b|\b(si vede|vedo|esce|sporge|spunta) l ?osso\b",
    ),
    rule(
        "en_heart_racing",
        MEDICAL,
        0.75,
        r"\b(heart|cuore)\b.{0,40}\b(wont slow down|wont stop racing|irregular|skipping beats|"
        r"a scatti|non rallenta|impazzito)\b",
    ),
    # -- abuse --------------------------------------------------------------------------------
    rule(
        "en_sexual_messages",
        ABUSE,
        0.9,
        r"\b(sexual|explicit|dirty|nude) (messages|texts|pictures|photos|pics)\b|\bmessaggi "
        r"(sessuali|espliciti|spinti)\b|\bfoto (nud[ea]|intime)\b",
    ),
    rule(
        "en_secrecy_threat",
        ABUSE,
        0.85,
        r"\bif i (tell|told) (anyone|anybody|my parents)\b"
        r"|\b(dont|not to) tell anyone what happens\b"
        r"|\bse lo dico a (qualcuno|nessuno|i miei)\b|\bnon dirlo a nessuno\b.{0,40}\b(altrimenti|"
        r"o non)\b",
    ),
    rule(
        "it_bullying",
        ABUSE,
        0.8,
        r"\bnonnismo\b|\b(hanno|ha) (pestato|menato|picchiato)\b|\b(beat|beating) (up )?(the "
        r"new|a younger|younger) (kid|player|guy)s?\b",
    ),
    # -- harm to others -----------------------------------------------------------------------
    rule(
        "en_threat_acts",
        HARM_OTHERS,
        0.85,
        r"\b(make|making) (him|her|them) bleed\b|\bsmash (his|her|their) (head|face|skull)\b|"
        r"\b(run|running) (him|her|them) over\b|\b(lo|la|li) investo\b|\bi know where (he|she|"
        r"the \w+) (lives|parks)\b|\b(hes|shes|he is|she is) (getting|gonna get) it\b|"
        r"\bgli spacco (la testa|la faccia)\b",
    ),
)

RULES = RULES + EXTRA_RULES

# generalisations of warning signs clinicians name: a plan, concealment, a method
WARNING_SIGN_RULES: tuple[Rule, ...] = (
    rule(
        "plan",
        SUICIDAL,
        0.85,
        r"\b(thought|thinking) about how (id|i would|i d|to) do it\b|\b(ive|i have|i ve) got it "
        r"planned\b|\bho (gia )?(pensato (anche )?a come|deciso come|un piano)\b",
    ),
    rule(
        "sleep_forever",
        SUICIDAL,
        0.9,
        r"\b(go to sleep|fall asleep|sleep|addormentarmi|dormire)\b.{0,12}\b(and |e )?(not|never|"
        r"non) (wake up|svegliarmi)\b",
    ),
    rule(
        "disappear",
        SUICIDAL,
        0.85,
        r"\b(disappeared|disappear|gone|vanish\w*) for good\b"
        r"|\bno one would (even )?(notice|care|miss me)\b|\bsparire per sempre\b"
        r"|\bnessuno (se ne accorgerebbe|sentirebbe la mia mancanza)\b",
    ),
    rule(
        "letters",
        SUICIDAL,
        0.8,
        r"\b(wrote|written|writing) (a |my )?(letters?|notes?) to (my )?"
        r"(family|parents|mom|mum|dad|friends)\b"
        r"|\bho scritto (delle |una )?lettere? (ai miei|alla mia famiglia|ai genitori)\b",
    ),
    rule(
        "concealment",
        SELF_HARM,
        0.85,
        r"\b(long sleeves|maniche lunghe|hide|hiding|cover|nascondo|copro)\b.{0,60}\b(cuts|scars|"
        r"tagli|cicatrici|burns|bruciature)\b|\b(doesnt|dont|cant|non) (see|vede|vedano|vedere)\b"
        r".{0,10}\b(the cuts|i tagli|my scars|le cicatrici)\b",
    ),
    rule(
        "feel_pain",
        SELF_HARM,
        0.85,
        r"\bso (that )?i (can )?(feel something|focus on (that|the) pain)\b|\bper sentire "
        r"(qualcosa|il dolore)\b|\b(till|until) (they|it|my \w+) bleeds?\b|\bfino a "
        r"(sanguinare|farmi sanguinare)\b",
    ),
    rule(
        "hurt_habit",
        SELF_HARM,
        0.8,
        r"\bhurt (my\s*self|myself) (after|when|every time|whenever|so)\b",
    ),
    rule("hazing", ABUSE, 0.8, r"\b(initiation|hazing|nonnismo)\b"),
    rule(
        "it_secrecy",
        ABUSE,
        0.85,
        r"\bse (racconto|dico|parlo di) (a qualcuno |a nessuno )?(cosa|quello che) succede\b",
    ),
    rule(
        "it_collapse",
        MEDICAL,
        0.85,
        r"\b(e )?crollat[oa] (in campo|a terra|per terra)\b|\b(svenut[oa]|crollat[oa]|a terra)\b"
        r".{0,30}\bnon risponde\b",
    ),
    rule(
        "swelling",
        MEDICAL,
        0.85,
        r"\bgonfi\w*\b.{0,20}\b(gola|faccia|labbra|lingua)\b|\b(gola|faccia|labbra|lingua)\b"
        r".{0,20}\bgonfi\w*",
    ),
    rule(
        "diabetic",
        MEDICAL,
        0.85,
        r"\b(diabetic|diabetico|diabetica|hypo|ipoglicemi\w*)\b.{0,60}\b(shaky|confused|sweaty|"
        r"pale|dizzy|faint|tremante|trema|confus\w*|sudato|pallido|svenire)\b",
    ),
    rule("run_over", HARM_OTHERS, 0.85, r"\brun (him|her|them|that \w+|the \w+) over\b"),
    rule(
        "it_box",
        OVERDOSE,
        0.9,
        r"\b(ho preso|ho ingoiato|mandato giu|buttato giu)\s+(una? )?(intera |intero )?(scatola|"
        r"flacone|blister|confezione|boccetta)( intera| intero)?\s+(di|dei|delle)\s+" + PILLS_IT,
    ),
)

RULES = RULES + WARNING_SIGN_RULES
