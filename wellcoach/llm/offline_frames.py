"""Reviewed wording for the offline composer: what it says around the steps, per intent.

Each intent has its own openings, bridges to the steps and closing questions, in English
and in Italian (informal "tu", no adjective that would assume the athlete's gender), with
several variants chosen deterministically from the message. The sport tables name the
athlete's own sport in the frames and give the generic moments ("your next start") that
replace another sport's words in steps taken from the knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- intents ---------------------------------------------------------------------------

# Cues are matched at the start of a word, case-insensitively: a cue of five letters or
# more is a stem ("arrabb" matches "arrabbio"), a shorter one a whole word ("rest" does
# not match "restare"). A strong cue counts twice; ties go to the intent listed first.
INTENT_ORDER = (
    "sleep",
    "nutrition",
    "injury",
    "recovery",
    "team",
    "anger",
    "confidence",
    "setback",
    "anxiety",
    "burnout",
    "motivation",
)

INTENT_CUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # intent: (strong cues, weak cues)
    "sleep": (
        (
            "sleep",
            "slept",
            "insomnia",
            "lie awake",
            "lying awake",
            "awake at night",
            "can't fall asleep",
            "dormi",
            "dormo",
            "sonno",
            "insonnia",
            "addorment",
            "nel letto",
        ),
        ("bed", "nap", "night", "letto", "notte", "sveglio", "sveglia"),
    ),
    "nutrition": (
        (
            "eat",
            "eating",
            "food",
            "meal",
            "meals",
            "diet",
            "fuel",
            "fuelling",
            "fueling",
            "breakfast",
            "carb",
            "carbs",
            "nutrition",
            "snack",
            "mangi",
            "cibo",
            "pasto",
            "pasti",
            "dieta",
            "colazione",
            "carboidrat",
            "alimentazion",
            "merenda",
        ),
        ("hydrat", "drink", "idrat", "bere", "pranzo", "cena"),
    ),
    "injury": (
        (
            "injur",
            "rehab",
            "physio",
            "sprain",
            "surgery",
            "infortun",
            "riabilitazion",
            "fisio",
            "distorsion",
            "operazione",
            "stiramento",
            "lesione",
        ),
        (
            "knee",
            "ankle",
            "hamstring",
            "shoulder",
            "coming back",
            "ginocchio",
            "caviglia",
            "spalla",
            "rientr",
            "farmi male",
            "get hurt",
        ),
    ),
    "recovery": (
        (
            "rest day",
            "day off",
            "days off",
            "recover",
            "active recovery",
            "riposo",
            "recuper",
            "giorno di pausa",
            "giorni di pausa",
        ),
        (
            "sore",
            "rest",
            "resting",
            "lose fitness",
            "indolenzit",
            "perdere la forma",
            "pausa",
            "scarico",
        ),
    ),
    "team": (
        (
            "dressing room",
            "locker room",
            "argue",
            "arguing",
            "argument",
            "conflict",
            "falling out",
            "fell out",
            "spogliatoio",
            "litig",
            "conflitt",
            "discussion",
        ),
        (
            "teammate",
            "team-mate",
            "compagn",
            "team",
            "coach",
            "captain",
            "bench",
            "atmosphere",
            "squadra",
            "allenatore",
            "allenatrice",
            "capitano",
            "panchina",
            "staff",
            "selezion",
        ),
    ),
    "anger": (
        (
            "angry",
            "anger",
            "furious",
            "rage",
            "temper",
            "frustrat",
            "lose my head",
            "lose it",
            "smash",
            "arrabb",
            "rabbia",
            "furios",
            "perdo la testa",
            "sclero",
            "incazz",
        ),
        ("mad at", "annoyed", "tilt", "mistake", "errore", "errori", "sbaglio", "sbagliare"),
    ),
    "confidence": (
        (
            "confiden",
            "believe in myself",
            "self-belief",
            "self belief",
            "self-doubt",
            "not good enough",
            "better than me",
            "imposter",
            "self-esteem",
            "fiducia",
            "autostima",
            "credere in me",
            "credo in me",
            "all'altezza",
            "meglio di me",
            "insicur",
        ),
        ("doubt", "compare", "comparing", "dubbi", "confront"),
    ),
    "setback": (
        (
            "disappointed",
            "gutted",
            "devastated",
            "heartbroken",
            "after losing",
            "after a loss",
            "lost the final",
            "deselected",
            "not selected",
            "dropped from",
            "cut from",
            "deluso",
            "delusa",
            "a pezzi",
            "abbattut",
            "distrutt",
            "sconfitta",
            "dopo aver perso",
            "non convocat",
            "escluso",
            "esclusa",
        ),
        ("sad", "upset", "crushed", "lost", "losing", "triste", "perso", "giù"),
    ),
    "anxiety": (
        (
            "nervous",
            "nerves",
            "anxious",
            "anxiety",
            "panic",
            "butterflies",
            "choke",
            "choking",
            "tighten up",
            "freeze",
            "ansia",
            "ansios",
            "agitat",
            "panico",
            "tremano",
            "tremo",
            "cuore a mille",
            "stomaco chiuso",
            "farfalle",
            "mi blocco",
            "bloccat",
        ),
        (
            "pressure",
            "when it counts",
            "big moments",
            "clutch",
            "close games",
            "tight games",
            "calm down",
            "calm",
            "shake",
            "shaking",
            "scared",
            "heart",
            "tension",
            "tense",
            "pressione",
            "quando conta",
            "momenti importanti",
            "calmar",
            "tensione",
            "paura",
            "cuore",
        ),
    ),
    "burnout": (
        (
            "burnout",
            "burn out",
            "burnt out",
            "burned out",
            "overwhelm",
            "overload",
            "stress",
            "juggl",
            "esaurit",
            "sovraccaric",
            "sommers",
            "stare dietro",
            "conciliare",
        ),
        (
            "exhausted",
            "drained",
            "too much",
            "school",
            "work",
            "exams",
            "balance",
            "tired",
            "sfinit",
            "stanc",
            "scuola",
            "lavoro",
            "esami",
            "troppo",
        ),
    ),
    "motivation": (
        (
            "motivat",
            "don't feel like",
            "dont feel like",
            "can't be bothered",
            "pointless",
            "lost interest",
            "slump",
            "plateau",
            "give up",
            "quit",
            "quitting",
            "motivazion",
            "voglia",
            "mollare",
            "smettere",
            "stufo",
            "stufa",
            "annoiat",
        ),
        ("bored", "drag myself", "lazy", "noia", "trascin", "mi pesa", "pigro", "pigra"),
    ),
}

# when the message carries no cue, the best passage's document says what it is about
INTENT_BY_DOCUMENT: tuple[tuple[str, str], ...] = (
    ("sleep", "sleep"),
    ("injury", "injury"),
    ("rest-day", "recovery"),
    ("recovery", "recovery"),
    ("anger", "anger"),
    ("conflict", "team"),
    ("bench", "team"),
    ("criticism", "team"),
    ("self-talk", "confidence"),
    ("reframing", "confidence"),
    ("confidence", "confidence"),
    ("nerves", "anxiety"),
    ("choking", "anxiety"),
    ("pressure", "anxiety"),
    ("breathing", "anxiety"),
    ("relaxation", "anxiety"),
    ("burnout", "burnout"),
    ("balance", "burnout"),
    ("motivation", "motivation"),
    ("habit", "motivation"),
    ("goal", "motivation"),
    ("slump", "motivation"),
    ("free-throw", "anxiety"),
)

# intents the knowledge base has (almost) no guide for: a step must touch the intent
THIN_INTENTS = frozenset({"nutrition", "team"})
# verbs whose list items complete the sentence: "For 2-4 weeks, try:" + "a new drill"
LIST_VERBS = frozenset(
    "try include add notice consider choose pick use prova includi aggiungi nota considera "
    "scegli usa".split()
)

# intents close enough that a guide written for one answers the other
RELATED: dict[str, frozenset[str]] = {
    "anxiety": frozenset({"anxiety", "confidence", "anger"}),
    "confidence": frozenset({"confidence", "anxiety", "anger"}),
    "anger": frozenset({"anger", "anxiety", "confidence"}),
    "sleep": frozenset({"sleep", "recovery", "burnout"}),
    "recovery": frozenset({"recovery", "sleep", "burnout"}),
    "injury": frozenset({"injury", "recovery"}),
    "burnout": frozenset({"burnout", "recovery", "sleep", "motivation"}),
    "motivation": frozenset({"motivation", "burnout"}),
    "team": frozenset({"team"}),
    "nutrition": frozenset({"nutrition"}),
    "setback": frozenset({"setback", "recovery", "motivation", "confidence"}),
}

# words that make a step more useful for an intent (added to the overlap with the message);
# a step from a guide about an unrelated intent needs one of them
INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "anxiety": (
        "breath", "exhale", "nerves", "routine", "calm", "calmer", "pressure", "tension",
        "respir", "espira", "tensione", "pression", "calma",
    ),
    "sleep": (
        "sleep", "bed", "night", "caffeine", "nap", "naps",
        "sonno", "letto", "notte", "caffeina", "dormi", "pisolin",
    ),
    "motivation": ("goal", "goals", "enjoy", "motivat", "obiettiv", "piacere", "motivaz"),
    "anger": ("reset", "mistake", "error", "anger", "errore", "errori", "rabbia", "ripartenza"),
    "confidence": ("believe", "confiden", "self-talk", "strength", "fiducia", "credi", "forza"),
    "injury": ("physio", "rehab", "injur", "fisio", "riabilitazion", "infortun"),
    "recovery": ("rest", "resting", "recover", "sleep", "riposo", "recuper", "sonno"),
    "team": ("conflict", "captain", "gossip", "conflitt", "capitano", "pettegol", "chiarire"),
    "burnout": ("load", "stress", "deadline", "carico", "scadenz", "impegni"),
    "nutrition": (
        "eat", "eating", "food", "meal", "meals", "fuel", "fuelling", "drink", "drinks",
        "caffeine", "breakfast",
        "mangi", "cibo", "pasto", "pasti", "bevi", "caffeina", "colazione", "alimentazion",
    ),
    "setback": (
        "loss", "losing", "disappoint", "chapter",
        "sconfitta", "delusione", "perdere", "capitolo",
    ),
    "general": (),
}  # fmt: skip

# --- frames ----------------------------------------------------------------------------

Variants = tuple[str, ...]
# a bridge is written twice: naming the athlete's sport, and without it
Bridge = tuple[str, str]

OPENINGS: dict[str, dict[str, Variants]] = {
    "anxiety": {
        "en": (
            "Nerves before a big moment are draining, and they are also a sign that it "
            "matters to you.",
            "A racing heart and shaky hands before you compete are your body getting ready, "
            "even if it doesn't feel that way.",
            "Almost every athlete feels that tension before competing, including the ones who "
            "look calm.",
            "That kind of pressure is real, and the good news is that how you respond to it "
            "can be trained.",
            "Feeling the pressure rise just when it counts is one of the most common "
            "experiences in sport.",
        ),
        "it": (
            "La tensione prima di un momento importante sfinisce, ma è anche il segno che ci "
            "tieni.",
            "Il cuore che batte forte e le mani che tremano prima di gareggiare sono il tuo "
            "corpo che si prepara, anche se non sembra.",
            "Quasi tutti gli atleti sentono quella tensione prima di una gara, anche quelli "
            "che sembrano tranquillissimi.",
            "Quella pressione è reale, e la buona notizia è che il modo in cui reagisci si "
            "può allenare.",
            "Sentire salire la pressione proprio quando conta è una delle esperienze più "
            "comuni nello sport.",
        ),
    },
    "sleep": {
        "en": (
            "Lying awake when you know you need rest is frustrating, and it's one of the most "
            "common things athletes struggle with.",
            "Poor sleep before a big day is very common, and one restless night affects "
            "performance less than you might fear.",
            "A lot of your recovery happens while you sleep, so it makes sense that you want "
            "to sort this out.",
            "When your mind won't switch off at night, the harder you try to sleep, the "
            "further away it feels.",
        ),
        "it": (
            "Passare ore a rigirarsi nel letto quando sai di dover riposare è frustrante, e "
            "capita a moltissimi atleti.",
            "Dormire male prima di un giorno importante è molto comune, e una notte agitata "
            "pesa sulla prestazione meno di quanto temi.",
            "Gran parte del recupero avviene mentre dormi, quindi è giusto voler sistemare "
            "questa cosa.",
            "Quando la testa non si spegne la notte, più ti sforzi di dormire e più il sonno "
            "sembra allontanarsi.",
        ),
    },
    "motivation": {
        "en": (
            "Losing the drive to train happens to every athlete at some point, and it doesn't "
            "mean you've stopped caring.",
            "Dragging yourself to sessions is draining, and a slump like this usually has a "
            "cause you can find.",
            "Motivation comes and goes in waves, even for people who love their sport.",
            "When training starts to feel pointless, it's often a sign that something needs "
            "to change, not that you lack willpower.",
        ),
        "it": (
            "Perdere la voglia di allenarsi capita a ogni atleta prima o poi, e non vuol dire "
            "che non ti importi più.",
            "Trascinarsi agli allenamenti è pesante, e un calo così di solito ha una causa "
            "che si può trovare.",
            "La motivazione va e viene a ondate, anche per chi ama il proprio sport.",
            "Quando allenarti comincia a sembrarti inutile, spesso è il segnale che qualcosa "
            "va cambiato, non che ti manchi la forza di volontà.",
        ),
    },
    "anger": {
        "en": (
            "Getting angry after a mistake shows how much you care, but it can cost you the "
            "next few plays as well.",
            "That flash of anger after an easy miss is very human, and it's one of the most "
            "trainable reactions in sport.",
            "When one error turns into three because of frustration, the problem isn't your "
            "skill but how quickly you reset.",
            "Being that hard on yourself after every mistake is exhausting, and there are "
            "quick ways to let the tension go.",
        ),
        "it": (
            "Arrabbiarsi dopo un errore dimostra quanto ci tieni, ma rischia di costarti "
            "anche le azioni successive.",
            "Quella fiammata di rabbia dopo un errore facile è umanissima, ed è una delle "
            "reazioni che si allenano meglio.",
            "Quando un errore se ne tira dietro altri tre per la frustrazione, il problema "
            "non è la tecnica ma quanto in fretta riesci a voltare pagina.",
            "Essere così severi con sé stessi dopo ogni errore sfinisce, e ci sono modi "
            "rapidi per scaricare la tensione.",
        ),
    },
    "confidence": {
        "en": (
            "Doubting yourself hurts, and confidence is something you can rebuild on purpose "
            "instead of waiting for it to come back.",
            "Comparing yourself with others eats away at belief, and it rarely shows the "
            "whole picture.",
            "Confidence goes up and down for everyone, and it grows from evidence you can collect.",
            "Feeling that you're not good enough is more common than people admit, even at "
            "the highest levels.",
        ),
        "it": (
            "Perdere fiducia in sé fa male, e la fiducia si può ricostruire con metodo, "
            "senza aspettare che torni da sola.",
            "Confrontarsi di continuo con gli altri consuma la fiducia, e raramente mostra "
            "il quadro completo.",
            "La fiducia va su e giù per tutti, e cresce con prove concrete che puoi raccogliere.",
            "Sentirsi non all'altezza capita più spesso di quanto si ammetta, anche ai "
            "livelli più alti.",
        ),
    },
    "setback": {
        "en": (
            "A result like that hurts, and it makes sense that it's still weighing on you.",
            "Disappointment after a setback is a sign of how much you've invested, not of "
            "weakness.",
            "Losing when it mattered is one of the hardest parts of sport, and you don't have "
            "to pretend it's fine.",
            "It's normal to need some time after a blow like this before you look ahead.",
        ),
        "it": (
            "Un risultato così fa male, ed è normale che ti pesi ancora.",
            "La delusione dopo una batosta dice quanto ci hai messo, non che sei debole.",
            "Perdere quando contava è una delle parti più dure dello sport, e non devi far "
            "finta che vada tutto bene.",
            "Dopo un colpo del genere è normale aver bisogno di un po' di tempo prima di "
            "guardare avanti.",
        ),
    },
    "injury": {
        "en": (
            "Coming back from an injury tests your head as much as your body, and the fear "
            "of getting hurt again is completely normal.",
            "Being out injured is hard, and the doubts that come with returning are part of "
            "the process, not a sign of weakness.",
            "The mental side of a comeback deserves as much attention as the rehab, and it's "
            "good that you're thinking about it.",
            "Trusting your body again after an injury takes time, and that trust is rebuilt "
            "step by step.",
        ),
        "it": (
            "Tornare da un infortunio mette alla prova la testa quanto il corpo, e la paura "
            "di farsi di nuovo male è del tutto normale.",
            "Stare fuori per un infortunio è dura, e i dubbi del rientro fanno parte del "
            "percorso, non sono un segno di debolezza.",
            "L'aspetto mentale del rientro merita la stessa attenzione della riabilitazione, "
            "e fai bene a pensarci.",
            "Tornare a fidarsi del proprio corpo dopo un infortunio richiede tempo, e la "
            "fiducia si ricostruisce un passo alla volta.",
        ),
    },
    "recovery": {
        "en": (
            "Your body adapts while it recovers, so rest is part of training, not time off "
            "from it.",
            "Worrying that a day off will cost you fitness is common, and the research is "
            "reassuring.",
            "Recovering well is a skill, and it matters most after the hardest days.",
            "Feeling guilty about resting is something many committed athletes share.",
        ),
        "it": (
            "Il corpo si adatta mentre recupera, quindi il riposo fa parte dell'allenamento "
            "e non è tempo perso.",
            "Temere che un giorno di pausa ti faccia perdere la forma è comune, e le ricerche "
            "sono rassicuranti.",
            "Recuperare bene è un'abilità, e conta soprattutto dopo le giornate più dure.",
            "Sentirsi in colpa quando ci si riposa capita a tanti atleti che ci tengono davvero.",
        ),
    },
    "team": {
        "en": (
            "Tension in a team drains everyone, and it's not easy when you're caught in the "
            "middle.",
            "Conflict with teammates or staff is one of the hardest parts of team sport, and "
            "it helps to deal with it early.",
            "Relationships in a squad matter as much as fitness, so it's worth handling this "
            "calmly.",
            "When the atmosphere in the changing room turns sour, it affects how everyone "
            "trains and plays.",
        ),
        "it": (
            "La tensione in squadra pesa su tutti, e non è facile quando ci sei in mezzo.",
            "I contrasti con compagni o staff sono tra le parti più difficili degli sport di "
            "squadra, e conviene affrontarli presto.",
            "I rapporti in squadra contano quanto la preparazione fisica, quindi vale la pena "
            "gestire la cosa con calma.",
            "Quando nello spogliatoio l'aria si fa pesante, ne risentono gli allenamenti e "
            "le partite di tutti.",
        ),
    },
    "burnout": {
        "en": (
            "Carrying that much at once wears anyone down, and it's a signal to look at your "
            "whole load, not just training.",
            "Feeling overwhelmed by sport, study and work is common, and it's a load problem "
            "more than a willpower problem.",
            "When everything piles up, even the things you enjoy start to feel heavy.",
            "Stress from several directions adds up, and your body doesn't separate training "
            "stress from everyday stress.",
        ),
        "it": (
            "Portare così tanto tutto insieme sfinisce chiunque, ed è il segnale per guardare "
            "il carico complessivo, non solo gli allenamenti.",
            "Sentirsi sommersi da sport, studio e lavoro è comune, ed è più una questione di "
            "carico che di forza di volontà.",
            "Quando tutto si accumula, anche le cose che ti piacciono cominciano a pesare.",
            "Lo stress che arriva da più parti si somma, e il corpo non distingue quello "
            "dell'allenamento da quello di tutti i giorni.",
        ),
    },
    "nutrition": {
        "en": (
            "Getting your fuel right before competing makes a real difference to how you feel.",
            "Feeling heavy or running on empty are both common, and small changes in timing "
            "often help.",
            "What to eat before competing is personal, and the best plan is one you've "
            "already tested in training.",
            "Eating around training and competition raises a lot of questions, and it's good "
            "that you're asking.",
        ),
        "it": (
            "Trovare l'alimentazione giusta prima delle gare fa una differenza concreta su "
            "come ti senti.",
            "Sentirsi pesanti o restare a corto di energie sono problemi comuni, e spesso "
            "basta cambiare gli orari dei pasti.",
            "Cosa mangiare prima di una gara è una scelta personale, e il piano migliore è "
            "quello già provato in allenamento.",
            "Mangiare bene intorno ad allenamenti e gare solleva tante domande, e fai bene a "
            "chiedere.",
        ),
    },
    "general": {
        "en": (
            "Good question, and it's the kind of thing that improves quickly with a clear plan.",
            "That's worth working on, and small, consistent habits usually make the biggest "
            "difference.",
            "Working on this deliberately pays off in training and in competition.",
            "This is something you can practise like any other skill.",
        ),
        "it": (
            "Bella domanda, ed è il tipo di cosa che migliora in fretta con un piano chiaro.",
            "Vale la pena lavorarci, e di solito sono le piccole abitudini costanti a fare "
            "la differenza.",
            "Lavorarci con metodo ripaga sia in allenamento sia in gara.",
            "È qualcosa che puoi allenare come qualsiasi altra abilità.",
        ),
    },
}

# {sport}: the sport's name (en) or its name after "di" (it); {nel}: "nel tennis" (it)
BRIDGES: dict[str, dict[str, tuple[Bridge, ...]]] = {
    "anxiety": {
        "en": (
            (
                "Here's what tends to help with nerves before you compete in {sport}:",
                "Here's what tends to help with nerves before you compete:",
            ),
            (
                "A few things to practise in {sport} training first, then when it counts:",
                "A few things to practise in training first, then when it counts:",
            ),
            (
                "Some concrete ways to put that energy to work in {sport}:",
                "Some concrete ways to put that energy to work:",
            ),
        ),
        "it": (
            (
                "Ecco cosa aiuta di solito a gestire la tensione quando gareggi {nel}:",
                "Ecco cosa aiuta di solito a gestire la tensione prima di gareggiare:",
            ),
            (
                "Qualche idea da provare prima negli allenamenti di {sport}, poi in gara:",
                "Qualche idea da provare prima in allenamento, poi in gara:",
            ),
            (
                "Alcuni modi concreti per sfruttare quell'energia {nel}:",
                "Alcuni modi concreti per sfruttare quell'energia:",
            ),
        ),
    },
    "sleep": {
        "en": (
            (
                "Here's what helps you sleep well between {sport} sessions and before competing:",
                "Here's what helps you sleep well between sessions and before competing:",
            ),
            (
                "A few changes you can make to your evenings, whatever your {sport} schedule:",
                "A few changes you can make to your evenings:",
            ),
            (
                "Some things worth trying tonight, with {sport} in mind:",
                "Some things worth trying tonight:",
            ),
        ),
        "it": (
            (
                "Ecco cosa ti aiuta a dormire bene tra un allenamento di {sport} e l'altro, e "
                "prima delle gare:",
                "Ecco cosa ti aiuta a dormire bene tra un allenamento e l'altro, e prima delle "
                "gare:",
            ),
            (
                "Qualche cambiamento per le tue serate, qualunque sia il tuo programma di "
                "allenamento di {sport}:",
                "Qualche cambiamento per le tue serate:",
            ),
            (
                "Alcune cose da provare già stasera, pensando agli allenamenti di {sport}:",
                "Alcune cose da provare già stasera:",
            ),
        ),
    },
    "motivation": {
        "en": (
            (
                "Here's how to get some spark back into your {sport} training:",
                "Here's how to get some spark back into your training:",
            ),
            (
                "A few small changes that usually restart things in {sport}:",
                "A few small changes that usually restart things:",
            ),
            (
                "Some ways to make your next {sport} session feel worth it again:",
                "Some ways to make your next session feel worth it again:",
            ),
        ),
        "it": (
            (
                "Ecco come ridare un po' di slancio ai tuoi allenamenti di {sport}:",
                "Ecco come ridare un po' di slancio ai tuoi allenamenti:",
            ),
            (
                "Qualche piccolo cambiamento che di solito rimette in moto le cose {nel}:",
                "Qualche piccolo cambiamento che di solito rimette in moto le cose:",
            ),
            (
                "Alcuni modi per far tornare utile il prossimo allenamento di {sport}:",
                "Alcuni modi per far tornare utile il prossimo allenamento:",
            ),
        ),
    },
    "anger": {
        "en": (
            (
                "Here's how to reset faster after a mistake in {sport}:",
                "Here's how to reset faster after a mistake:",
            ),
            (
                "A few tools to let an error go before the next play in {sport}:",
                "A few tools to let an error go before the next play:",
            ),
            (
                "Some things to rehearse in {sport} training so they work under pressure:",
                "Some things to rehearse in training so they work under pressure:",
            ),
        ),
        "it": (
            (
                "Ecco come voltare pagina più in fretta dopo un errore {nel}:",
                "Ecco come voltare pagina più in fretta dopo un errore:",
            ),
            (
                "Qualche strumento per lasciar andare un errore prima dell'azione successiva "
                "{nel}:",
                "Qualche strumento per lasciar andare un errore prima dell'azione successiva:",
            ),
            (
                "Alcune cose da provare negli allenamenti di {sport}, così sotto pressione "
                "vengono da sole:",
                "Alcune cose da provare in allenamento, così sotto pressione vengono da sole:",
            ),
        ),
    },
    "confidence": {
        "en": (
            (
                "Here's how to build belief you can rely on in {sport}:",
                "Here's how to build belief you can rely on:",
            ),
            (
                "A few ways to collect evidence that you're ready in {sport}:",
                "A few ways to collect evidence that you're ready:",
            ),
            (
                "Some habits that steady your confidence, in {sport} and beyond:",
                "Some habits that steady your confidence:",
            ),
        ),
        "it": (
            (
                "Ecco come costruire {nel} una fiducia su cui contare:",
                "Ecco come costruire una fiducia su cui contare:",
            ),
            (
                "Qualche modo per raccogliere {nel} prove concrete dei tuoi progressi:",
                "Qualche modo per raccogliere prove concrete dei tuoi progressi:",
            ),
            (
                "Alcune abitudini che rendono più stabile la tua fiducia {nel} e fuori:",
                "Alcune abitudini che rendono più stabile la tua fiducia:",
            ),
        ),
    },
    "setback": {
        "en": (
            (
                "Here's what helps you close the chapter and get back to {sport}:",
                "Here's what helps you close the chapter and move on:",
            ),
            (
                "A few steps for the next day or two, before your next {sport} session:",
                "A few steps for the next day or two:",
            ),
            (
                "Some ways to process it and take something useful into {sport} training:",
                "Some ways to process it and take something useful into training:",
            ),
        ),
        "it": (
            (
                "Ecco cosa ti aiuta a chiudere il capitolo e a tornare agli allenamenti di "
                "{sport}:",
                "Ecco cosa ti aiuta a chiudere il capitolo e ad andare avanti:",
            ),
            (
                "Qualche passo per i prossimi due giorni, prima del prossimo allenamento di "
                "{sport}:",
                "Qualche passo per i prossimi due giorni:",
            ),
            (
                "Alcuni modi per elaborarla e portare qualcosa di utile negli allenamenti di "
                "{sport}:",
                "Alcuni modi per elaborarla e portare qualcosa di utile in allenamento:",
            ),
        ),
    },
    "injury": {
        "en": (
            (
                "Here's what helps the mental side of getting back to {sport}:",
                "Here's what helps the mental side of coming back:",
            ),
            (
                "A few things to add to your rehab on the way back to {sport}:",
                "A few things to add to your rehab:",
            ),
            (
                "Some ways to rebuild trust in your body before you return to {sport}:",
                "Some ways to rebuild trust in your body:",
            ),
        ),
        "it": (
            (
                "Ecco cosa aiuta la parte mentale del rientro {nel}:",
                "Ecco cosa aiuta la parte mentale del rientro:",
            ),
            (
                "Qualche cosa da aggiungere alla riabilitazione, in vista del rientro {nel}:",
                "Qualche cosa da aggiungere alla riabilitazione:",
            ),
            (
                "Alcuni modi per tornare a fidarti del tuo corpo prima di riprendere con "
                "gli allenamenti di {sport}:",
                "Alcuni modi per tornare a fidarti del tuo corpo:",
            ),
        ),
    },
    "recovery": {
        "en": (
            (
                "Here's how to make rest and recovery count in {sport}:",
                "Here's how to make rest and recovery count:",
            ),
            (
                "A few ways to recover well between {sport} sessions:",
                "A few ways to recover well between sessions:",
            ),
            (
                "Some things that make a rest day work for you and your {sport}:",
                "Some things that make a rest day work for you:",
            ),
        ),
        "it": (
            (
                "Ecco come far fruttare riposo e recupero {nel}:",
                "Ecco come far fruttare riposo e recupero:",
            ),
            (
                "Qualche modo per recuperare bene tra un allenamento di {sport} e l'altro:",
                "Qualche modo per recuperare bene tra un allenamento e l'altro:",
            ),
            (
                "Alcune cose che rendono davvero utile un giorno di riposo {nel}:",
                "Alcune cose che rendono davvero utile un giorno di riposo:",
            ),
        ),
    },
    "team": {
        "en": (
            (
                "Here's what usually helps when things are tense in a {sport} team:",
                "Here's what usually helps when things are tense in a team:",
            ),
            (
                "A few steps for handling it calmly, on and off the {sport} court or field:",
                "A few steps for handling it calmly:",
            ),
            (
                "Some ways to look after yourself and the team in {sport}:",
                "Some ways to look after yourself and the team:",
            ),
        ),
        "it": (
            (
                "Ecco cosa aiuta di solito quando in una squadra di {sport} c'è tensione:",
                "Ecco cosa aiuta di solito quando in squadra c'è tensione:",
            ),
            (
                "Qualche passo per gestire la situazione con calma, in allenamento e fuori:",
                "Qualche passo per gestire la situazione con calma:",
            ),
            (
                "Alcuni modi per prenderti cura di te e della squadra {nel}:",
                "Alcuni modi per prenderti cura di te e della squadra:",
            ),
        ),
    },
    "burnout": {
        "en": (
            (
                "Here's how to lighten the load around your {sport}:",
                "Here's how to lighten the load:",
            ),
            (
                "A few ways to fit {sport}, study and work together without running on empty:",
                "A few ways to fit sport, study and work together without running on empty:",
            ),
            (
                "Some first steps to get some breathing space back, with {sport} included:",
                "Some first steps to get some breathing space back:",
            ),
        ),
        "it": (
            (
                "Ecco come alleggerire il carico intorno agli allenamenti di {sport}:",
                "Ecco come alleggerire il carico:",
            ),
            (
                "Qualche modo per conciliare allenamenti di {sport}, studio e lavoro senza "
                "restare a secco:",
                "Qualche modo per conciliare sport, studio e lavoro senza restare a secco:",
            ),
            (
                "Alcuni primi passi per ritrovare un po' di respiro, allenamenti di {sport} "
                "compresi:",
                "Alcuni primi passi per ritrovare un po' di respiro:",
            ),
        ),
    },
    "nutrition": {
        "en": (
            (
                "For a personal eating plan for {sport}, a sports dietitian is the right "
                "person; meanwhile, here's what our guides suggest:",
                "For a personal eating plan, a sports dietitian is the right person; "
                "meanwhile, here's what our guides suggest:",
            ),
            (
                "Our guides don't replace a sports dietitian, but here's what helps on "
                "{sport} competition days:",
                "Our guides don't replace a sports dietitian, but here's what helps on "
                "competition days:",
            ),
            (
                "A few things from our guides for {sport} competition days; a sports "
                "dietitian can tailor the food itself:",
                "A few things from our guides for competition days; a sports dietitian can "
                "tailor the food itself:",
            ),
        ),
        "it": (
            (
                "Per un piano alimentare su misura {nel} la persona giusta è un nutrizionista "
                "sportivo; intanto, ecco cosa suggeriscono le nostre guide:",
                "Per un piano alimentare su misura la persona giusta è un nutrizionista "
                "sportivo; intanto, ecco cosa suggeriscono le nostre guide:",
            ),
            (
                "Le nostre guide non sostituiscono un nutrizionista sportivo, ma ecco cosa "
                "aiuta nei giorni di gara {nel}:",
                "Le nostre guide non sostituiscono un nutrizionista sportivo, ma ecco cosa "
                "aiuta nei giorni di gara:",
            ),
            (
                "Qualche indicazione dalle nostre guide per i giorni di gara {nel}; per "
                "l'alimentazione vera e propria un nutrizionista sportivo saprà consigliarti:",
                "Qualche indicazione dalle nostre guide per i giorni di gara; per "
                "l'alimentazione vera e propria un nutrizionista sportivo saprà consigliarti:",
            ),
        ),
    },
    "general": {
        "en": (
            ("Here's how to approach it in {sport}:", "Here's how to approach it:"),
            (
                "A few practical steps you can start with in {sport}:",
                "A few practical steps you can start with:",
            ),
            (
                "Some things to try in your next {sport} sessions:",
                "Some things to try in your next sessions:",
            ),
        ),
        "it": (
            ("Ecco come impostarlo {nel}:", "Ecco come impostarlo:"),
            (
                "Qualche passo pratico da cui partire {nel}:",
                "Qualche passo pratico da cui partire:",
            ),
            (
                "Alcune cose da provare nei prossimi allenamenti di {sport}:",
                "Alcune cose da provare nei prossimi allenamenti:",
            ),
        ),
    },
}

# {event}: "match", "race", ... (en); "partita", "gara" (it, both feminine)
CLOSINGS: dict[str, dict[str, Variants]] = {
    "anxiety": {
        "en": (
            "Which of these could you try before your next {event}?",
            "When do the nerves usually hit hardest: the night before, the warm-up, or the "
            "first minutes?",
            "What does your body do first when the pressure rises?",
            "Which one would fit into your warm-up without changing much?",
        ),
        "it": (
            "Quale di questi consigli potresti provare prima della prossima {event}?",
            "Quando ti sale di più la tensione: la sera prima, durante il riscaldamento o "
            "nei primi minuti?",
            "Qual è la prima cosa che fa il tuo corpo quando sale la pressione?",
            "Quale di questi consigli riusciresti a inserire nel riscaldamento senza stravolgerlo?",
        ),
    },
    "sleep": {
        "en": (
            "What usually keeps you awake: thoughts about competing, your phone, or "
            "something else?",
            "Which of these could you start tonight?",
            "What does your last hour before bed usually look like?",
            "How many hours do you usually sleep in a normal training week?",
        ),
        "it": (
            "Cosa ti toglie il sonno di solito: i pensieri sulla gara, il telefono o "
            "qualcos'altro?",
            "Quale di questi consigli potresti iniziare già stasera?",
            "Com'è di solito la tua ultima ora prima di andare a letto?",
            "Quante ore dormi di solito in una normale settimana di allenamento?",
        ),
    },
    "motivation": {
        "en": (
            "When did you last really enjoy training, and what was different then?",
            "Which of these feels easiest to start this week?",
            "Is it more boredom, tiredness or frustration at the moment?",
            "What's one small goal you'd be glad to tick off this week?",
        ),
        "it": (
            "Quand'è stata l'ultima volta che allenarti ti ha fatto davvero piacere, e cosa "
            "c'era di diverso?",
            "Quale di questi consigli ti sembra più facile da iniziare questa settimana?",
            "In questo momento è più noia, stanchezza o frustrazione?",
            "Qual è un piccolo obiettivo che ti farebbe piacere spuntare questa settimana?",
        ),
    },
    "anger": {
        "en": (
            "What usually happens in the minute right after the mistake?",
            "Which of these could you rehearse in training this week?",
            "What do you tend to say to yourself after an error?",
            "Which mistakes set you off most: the easy ones, or the ones at key moments?",
        ),
        "it": (
            "Cosa succede di solito nel minuto subito dopo l'errore?",
            "Quale di questi consigli potresti provare in allenamento questa settimana?",
            "Cosa tendi a dirti dopo un errore?",
            "Quali errori ti fanno scattare di più: quelli facili o quelli nei momenti decisivi?",
        ),
    },
    "confidence": {
        "en": (
            "What's one thing you've done well recently that you could remind yourself of?",
            "Which of these could you start this week?",
            "When do you feel most sure of yourself in training?",
            "What would someone who believes in you say about your last few weeks?",
        ),
        "it": (
            "Qual è una cosa che hai fatto bene di recente e che potresti ricordarti più spesso?",
            "Quale di questi consigli potresti iniziare questa settimana?",
            "In quali momenti dell'allenamento ti senti più a tuo agio?",
            "Cosa direbbe delle tue ultime settimane qualcuno che crede in te?",
        ),
    },
    "setback": {
        "en": (
            "What's weighing on you most about how it went?",
            "Which of these feels right for the next couple of days?",
            "Who could you spend some time with this week, away from the results?",
            "What's one thing you'd like to take from it into your next session?",
        ),
        "it": (
            "Cosa ti pesa di più di com'è andata?",
            "Quale di questi consigli ti sembra giusto per i prossimi giorni?",
            "Con chi potresti passare un po' di tempo questa settimana, lontano dai risultati?",
            "Qual è una cosa che vorresti portare con te nel prossimo allenamento?",
        ),
    },
    "injury": {
        "en": (
            "Which part of your return worries you most right now?",
            "Which of these could you add to your rehab this week?",
            "How are things with your physio: do you know what each phase is for?",
            "What would a good first week back look like for you?",
        ),
        "it": (
            "Qual è la parte del rientro che ti preoccupa di più in questo momento?",
            "Quale di questi consigli potresti aggiungere alla riabilitazione questa settimana?",
            "Come va con il fisioterapista: ti è chiaro a cosa serve ogni fase?",
            "Come sarebbe per te una buona prima settimana di rientro?",
        ),
    },
    "recovery": {
        "en": (
            "What does a typical rest day look like for you now?",
            "Which of these could you try on your next rest day?",
            "How do you usually feel the day after your hardest session?",
            "What makes resting hardest for you?",
        ),
        "it": (
            "Com'è adesso una tua giornata di riposo tipo?",
            "Quale di questi consigli potresti provare nel prossimo giorno di riposo?",
            "Come ti senti di solito il giorno dopo la seduta più dura?",
            "Cosa ti rende più difficile riposare?",
        ),
    },
    "team": {
        "en": (
            "Who else in the team or staff could you talk to about this?",
            "Which of these feels possible in your situation?",
            "What would a good outcome look like for you?",
            "How long has the tension been going on?",
        ),
        "it": (
            "Con chi altro, in squadra o nello staff, potresti parlarne?",
            "Quale di questi consigli ti sembra possibile nella tua situazione?",
            "Come sarebbe per te una buona soluzione?",
            "Da quanto tempo va avanti questa tensione?",
        ),
    },
    "burnout": {
        "en": (
            "Which part of your week feels heaviest right now?",
            "What's one commitment you could lighten this week?",
            "Which of these could fit into the next few days?",
            "How are your sleep and energy holding up?",
        ),
        "it": (
            "Quale parte della settimana ti pesa di più in questo momento?",
            "C'è un impegno che potresti alleggerire questa settimana?",
            "Quale di questi consigli potresti inserire nei prossimi giorni?",
            "Come vanno il sonno e l'energia in questo periodo?",
        ),
    },
    "nutrition": {
        "en": (
            "What do you usually eat before competing, and how long before?",
            "Which of these could you test in training first?",
            "Have you been able to talk to a sports dietitian or your team doctor about fuelling?",
            "In the first part of a {event}, do you feel heavy or low on energy?",
        ),
        "it": (
            "Cosa mangi di solito prima di gareggiare, e quanto tempo prima?",
            "Quale di questi consigli potresti provare prima in allenamento?",
            "Hai potuto parlare di alimentazione con un nutrizionista sportivo o con il "
            "medico della squadra?",
            "Nella prima parte della {event} ti senti più pesante o più a corto di energie?",
        ),
    },
    "general": {
        "en": (
            "Which of these fits best with how you train now?",
            "What have you already tried, and how did it go?",
            "Which one would you like to start with?",
            "What would you like to be different a month from now?",
        ),
        "it": (
            "Quale di questi consigli si adatta meglio al tuo modo di allenarti?",
            "Cosa hai già provato, e com'è andata?",
            "Da quale consiglio vorresti partire?",
            "Cosa vorresti che fosse diverso tra un mese?",
        ),
    },
}

# a short line in the chosen personality's voice before the closing question; "" = none
PUSH: dict[str, dict[str, Variants]] = {
    "empathetic": {
        "en": ("", "Go at your own pace.", "There's no need to do all of it at once."),
        "it": ("", "Vai con i tuoi tempi.", "Non serve fare tutto insieme."),
    },
    "motivational": {
        "en": (
            "Pick one and start today.",
            "Choose one and put it to work at your next session.",
            "Start with the easiest one, today.",
        ),
        "it": (
            "Scegline uno e comincia oggi.",
            "Scegline uno e mettilo in pratica al prossimo allenamento.",
            "Parti dal più facile, già oggi.",
        ),
    },
    "analytical": {
        "en": (
            "Try one for a week and note what changes.",
            "Change one thing at a time, so you can see what works.",
            "Keep a short note after each session to see the effect.",
        ),
        "it": (
            "Provane uno per una settimana e annota cosa cambia.",
            "Cambia una cosa alla volta, così capisci cosa funziona.",
            "Dopo ogni allenamento scrivi una breve nota per vederne l'effetto.",
        ),
    },
}

# the same voice when there is a single step (or a guide's key point) to try
PUSH_ONE: dict[str, dict[str, Variants]] = {
    "empathetic": {
        "en": ("", "Go at your own pace.", "Take it one small step at a time."),
        "it": ("", "Vai con i tuoi tempi.", "Procedi un piccolo passo alla volta."),
    },
    "motivational": {
        "en": ("Start today.", "Put it to work at your next session.", "Give it a go today."),
        "it": (
            "Comincia oggi.",
            "Mettilo in pratica al prossimo allenamento.",
            "Provaci già oggi.",
        ),
    },
    "analytical": {
        "en": ("Try it for a week and note what changes.", "Keep a short note of the effect."),
        "it": (
            "Provalo per una settimana e annota cosa cambia.",
            "Tieni una breve nota dell'effetto.",
        ),
    },
}
# closings that speak of several steps, left out when there is only one
SEVERAL = r"\b(?:these|which one|questi|da quale consiglio)\b"

# when nothing in the knowledge base answers the question
NO_MATERIAL = {
    "en": "I don't have specific material on this yet, so I'd rather not guess. Can you tell "
    "me a bit more about when it happens and how it affects your training?",
    "it": "Su questo non ho ancora materiale specifico e preferisco non improvvisare. Mi "
    "racconti quando succede e come influisce sui tuoi allenamenti?",
}
# a question about fuelling, which no guide answers yet
NO_NUTRITION = {
    "en": "I don't have a guide on fuelling yet, so I'd rather not guess: what to eat and "
    "when is personal, and a sports dietitian or your team doctor is the right person for a "
    "plan. Meanwhile, can you tell me what you usually eat before competing and how you "
    "feel afterwards?",
    "it": "Su alimentazione e rifornimento non ho ancora una guida, quindi preferisco non "
    "improvvisare: cosa mangiare e quando è una scelta personale, e la persona giusta per un "
    "piano è un nutrizionista sportivo o il medico della squadra. Intanto, mi racconti cosa "
    "mangi di solito prima di gareggiare e come ti senti dopo?",
}
# an Italian question only an English guide answers: point to it rather than quote it
ONLY_IN_ENGLISH = (
    "Su questo argomento la nostra guida esiste solo in inglese: la trovi tra le fonti qui "
    "sotto. Preferisco non tradurla di fretta, perché rischierei di cambiarne il senso. "
    "Intanto, mi racconti quando ti succede e come influisce sui tuoi allenamenti?"
)
# the key point of the best guide, when it offers no step to quote
KEY_POINT = {"en": "Our guide on this puts it like this:", "it": "La nostra guida la mette così:"}
ASK_YOURSELF = {"en": 'Ask yourself: "{question}"', "it": "Chiediti: «{question}»"}
TRY = {"en": "Try {rest}", "it": "Prova {rest}"}

# --- sports ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sport:
    key: str
    en: str  # the name in an English sentence: "in tennis"
    it: str  # the name after "di": "allenamento di tennis"
    it_in: str  # with its preposition: "nel tennis"
    event: tuple[str, str]  # a competition: ("match", "partita")
    moment: tuple[str, str]  # its closed skill: ("serve", "del tuo prossimo servizio")


SPORTS: tuple[Sport, ...] = (
    Sport(
        "tennis",
        "tennis",
        "tennis",
        "nel tennis",
        ("match", "partita"),
        ("serve", "del tuo prossimo servizio"),
    ),
    Sport(
        "padel",
        "padel",
        "padel",
        "nel padel",
        ("match", "partita"),
        ("serve", "del tuo prossimo servizio"),
    ),
    Sport(
        "basketball",
        "basketball",
        "basket",
        "nel basket",
        ("game", "partita"),
        ("free throw", "del tuo prossimo tiro libero"),
    ),
    Sport(
        "football",
        "football",
        "calcio",
        "nel calcio",
        ("match", "partita"),
        ("set piece", "del tuo prossimo calcio piazzato"),
    ),
    Sport(
        "volleyball",
        "volleyball",
        "pallavolo",
        "nella pallavolo",
        ("match", "partita"),
        ("serve", "della tua prossima battuta"),
    ),
    Sport(
        "rugby",
        "rugby",
        "rugby",
        "nel rugby",
        ("match", "partita"),
        ("kick", "del tuo prossimo calcio piazzato"),
    ),
    Sport(
        "golf", "golf", "golf", "nel golf", ("round", "gara"), ("shot", "del tuo prossimo colpo")
    ),
    Sport(
        "swimming",
        "swimming",
        "nuoto",
        "nel nuoto",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "running",
        "running",
        "corsa",
        "nella corsa",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "cycling",
        "cycling",
        "ciclismo",
        "nel ciclismo",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "athletics",
        "athletics",
        "atletica",
        "nell'atletica",
        ("competition", "gara"),
        ("start", "della tua prossima prova"),
    ),
    Sport(
        "triathlon",
        "triathlon",
        "triathlon",
        "nel triathlon",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "skiing",
        "skiing",
        "sci",
        "nello sci",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "rowing",
        "rowing",
        "canottaggio",
        "nel canottaggio",
        ("race", "gara"),
        ("start", "della tua prossima partenza"),
    ),
    Sport(
        "gymnastics",
        "gymnastics",
        "ginnastica",
        "nella ginnastica",
        ("competition", "gara"),
        ("routine", "del tuo prossimo esercizio"),
    ),
    Sport(
        "diving",
        "diving",
        "tuffi",
        "nei tuffi",
        ("competition", "gara"),
        ("dive", "del tuo prossimo tuffo"),
    ),
    Sport(
        "boxing",
        "boxing",
        "pugilato",
        "nel pugilato",
        ("fight", "gara"),
        ("round", "della tua prossima ripresa"),
    ),
    Sport(
        "martial_arts",
        "martial arts",
        "arti marziali",
        "nelle arti marziali",
        ("fight", "gara"),
        ("bout", "del tuo prossimo incontro"),
    ),
    Sport(
        "handball",
        "handball",
        "pallamano",
        "nella pallamano",
        ("match", "partita"),
        ("throw", "del tuo prossimo tiro"),
    ),
    Sport(
        "hockey",
        "hockey",
        "hockey",
        "nell'hockey",
        ("game", "partita"),
        ("shot", "del tuo prossimo tiro"),
    ),
    Sport(
        "water_polo",
        "water polo",
        "pallanuoto",
        "nella pallanuoto",
        ("match", "partita"),
        ("shot", "del tuo prossimo tiro"),
    ),
    Sport(
        "baseball",
        "baseball",
        "baseball",
        "nel baseball",
        ("game", "partita"),
        ("pitch", "del tuo prossimo lancio"),
    ),
    Sport(
        "climbing",
        "climbing",
        "arrampicata",
        "nell'arrampicata",
        ("competition", "gara"),
        ("attempt", "del tuo prossimo tentativo"),
    ),
    Sport(
        "fencing",
        "fencing",
        "scherma",
        "nella scherma",
        ("bout", "gara"),
        ("bout", "del tuo prossimo assalto"),
    ),
    Sport(
        "weightlifting",
        "weightlifting",
        "pesistica",
        "nella pesistica",
        ("competition", "gara"),
        ("lift", "della tua prossima alzata"),
    ),
)
# the sport of a sport-specific guide, and the athletes' sports (keys above) it is written for
GUIDE_SPORTS: dict[str, frozenset[str]] = {
    "combat_sports": frozenset({"boxing", "martial_arts", "fencing"}),
    "running": frozenset({"running", "athletics", "triathlon"}),
}
GENERIC_EVENT = ("competition", "gara")
GENERIC_MOMENT = ("start, rep or point", "della tua prossima partenza o azione")

# what athletes type for their sport, in either language, mapped to a key above
SPORT_ALIASES: dict[str, str] = {
    "soccer": "football",
    "calcio": "football",
    "futsal": "football",
    "calcio a 5": "football",
    "basket": "basketball",
    "pallacanestro": "basketball",
    "pallavolo": "volleyball",
    "beach volley": "volleyball",
    "nuoto": "swimming",
    "swim": "swimming",
    "corsa": "running",
    "run": "running",
    "marathon": "running",
    "maratona": "running",
    "trail running": "running",
    "podismo": "running",
    "ciclismo": "cycling",
    "bike": "cycling",
    "mtb": "cycling",
    "atletica": "athletics",
    "track and field": "athletics",
    "atletica leggera": "athletics",
    "sci": "skiing",
    "ski": "skiing",
    "snowboard": "skiing",
    "canottaggio": "rowing",
    "ginnastica": "gymnastics",
    "tuffi": "diving",
    "pugilato": "boxing",
    "boxe": "boxing",
    "judo": "martial_arts",
    "karate": "martial_arts",
    "taekwondo": "martial_arts",
    "arti marziali": "martial_arts",
    "pallamano": "handball",
    "ice hockey": "hockey",
    "hockey su ghiaccio": "hockey",
    "field hockey": "hockey",
    "pallanuoto": "water_polo",
    "waterpolo": "water_polo",
    "arrampicata": "climbing",
    "bouldering": "climbing",
    "scherma": "fencing",
    "pesistica": "weightlifting",
    "sollevamento pesi": "weightlifting",
    "powerlifting": "weightlifting",
}

# Words that belong to particular sports (word-start regexes, matched case-insensitively),
# with the sports they belong to. A step that still names another sport after the
# rewrites in offline.py is dropped.
SPORT_TERMS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (pattern, frozenset(sports.split()))
    for pattern, sports in (
        # English
        (r"tennis", "tennis"),
        (r"rackets?\b|racquets?\b", "tennis padel"),
        (r"serves?\b|serving\b|first[- ]serve", "tennis padel volleyball"),
        (
            r"double faults?|aces?\b|baselines?\b|changeovers?\b|forehands?\b|backhands?\b"
            r"|tie-?breaks?|deuce|break points?|set points?|match points?|strings\b",
            "tennis padel",
        ),
        (r"serving for the (?:set|match)|at 30-40|volleys?\b|the T\b", "tennis padel"),
        (
            r"basketball|free[- ]throws?|layups?|lay-ups?|the rim\b|hoops?\b|dunks?\b"
            r"|three-pointers?|jump shots?|open looks?|rebounds?\b",
            "basketball",
        ),
        (
            r"football|soccer|penalt(?:y|ies)|goalkeepers?|keepers?\b|free[- ]kicks?"
            r"|corner kicks?|strikers?\b|penalty spot|own half\b",
            "football",
        ),
        (r"penalty kicks?|conversions?\b|rugby|scrums?\b|line-?outs?\b|kickers?\b", "rugby"),
        (r"volleyball|spikes?\b|setters?\b|shank", "volleyball"),
        (r"golf|putts?\b|putting\b|clubhead|fairways?|tee shots?|pre-shot", "golf"),
        (r"swing\b", "golf tennis padel baseball"),
        (r"swimming|swimmers?\b|swim\b|pools?\b|push the water|strokes?\b", "swimming"),
        (
            r"running\b|runners?\b|jogging\b|marathons?\b|10 ?km\b|strides?\b",
            "running athletics triathlon",
        ),
        (r"cycling|cyclists?\b|bikes?\b|pedal", "cycling triathlon"),
        (r"athletics|hurdles?\b|javelin|long jump|high jump", "athletics"),
        (r"skiing|skiers?\b|slalom", "skiing"),
        (r"divers?\b|diving\b", "diving"),
        (r"weightlift|lifters?\b|barbell", "weightlifting"),
        (r"laps?\b", "running athletics swimming cycling triathlon skiing"),
        (r"court\b", "tennis padel basketball volleyball"),
        (r"pitch\b", "football rugby baseball"),
        # Italian
        (r"racchett", "tennis padel"),
        (r"servizi?o?\b(?! (?:sanitario|di emergenza|clinic))", "tennis padel"),
        (r"doppi(?:o)? fall|dritt[oi]\b|roves[cs]", "tennis padel"),
        (r"tennist", "tennis"),
        (
            r"tir[oi] liber|terzo tempo|canestr|ferro (?:anteriore|posteriore)|schiacciat",
            "basketball volleyball",
        ),
        (r"calcio\b|calciator|rigor[ei]\b|portier|punizion|calci? piazzat", "football rugby"),
        (r"pallavol|battut[ae]\b|bagher|alzator|ricezion", "volleyball"),
        (r"trasformazion|mischi[ae]\b|touche|piazzator|placcagg", "rugby"),
        (r"nuot|vasca|bracciat|spingi l'acqua", "swimming"),
        (r"bici\b|bicicletta|ciclist|pedalat", "cycling triathlon"),
        (r"falcat|maratona|podist|corsa\b", "running athletics triathlon"),
        (r"atletica|ostacol|giavellott", "athletics"),
        (r"bastone|buca\b|buche\b", "golf"),
        (r"tuff[oi]", "diving"),
    )
)

# closed skills of several sports, listed in a passage's example ("before a free throw,
# serve, penalty or start"): the list becomes the athlete's own next moment
CLOSED_SKILLS = {
    "en": r"free[- ]throws?|serves?|penalt(?:y|ies)|putts?|starts?|lifts?|conversions?"
    r"|kicks?|dives?|shots?|throws?|pitch(?:es)?|jumps?",
    "it": r"tir[oi] liber[oi]|servizi?o?|rigor[ei]|putt|partenz[ae]|alzat[ae]|calci? piazzat[oi]"
    r"|battut[ae]|trasformazion[ei]|tuff[oi]|tir[oi]|lanci?o?|salt[oi]",
}
# several endurance activities listed as examples of light movement
ACTIVITIES = {
    "en": r"(?:easy |light |gentle )?(?:cycling|swimming|walking|jogging|running|rowing|a walk"
    r"|a swim|a ride|a bike ride)",
    "it": r"(?:bici|nuoto|camminata|corsa(?: blanda)?|cyclette|passeggiata)",
}
LIGHT_MOVEMENT = {
    "en": "easy, low-impact movement such as walking",
    "it": "movimento leggero, come una camminata,",
}

# English words the Italian knowledge base borrows, in the Italian a coach would say
ITALIAN_FOR_LOANWORDS: tuple[tuple[str, str], ...] = (
    (r"\benergy drink\b", "bevande energetiche"),
    (r"\bpre-workout\b", "integratori pre-allenamento"),
    (r"\bscroll\b", "scorrere il telefono"),
    (r"\bfeedback\b", "riscontri"),
    (r"\bstretching\b", "allungamento"),
    (r"\bfoam roller\b", "rullo di schiuma"),
    (r"\bmental coach\b", "allenatore mentale"),
    (r"\bteam\b", "squadra"),
    (r"\bcheck\b", "controllo"),
    (r"\bswing fluido\b", "movimento fluido"),
    (r"\"reset, ", '"azzera, '),
    (r', "reset"', ', "si riparte"'),
    (r'"reset"', "segnale di ripartenza"),
    (r"\bun reset\b", "una ripartenza"),
    (r"\breset\b", "rituale di ripartenza"),
    (r"\bresettar", "azzerar"),
    (r"\bDì\b", "Di'"),
    (r"\bdì\b(?= a voce| nella| \")", "di'"),
)
