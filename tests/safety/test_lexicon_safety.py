"""Safety suite for the lexicon: messages written for this project that must or must not be flagged.

The lexicon is the first stage of the detector and is tuned for sensitivity: every message in
MUST_FLAG needs an active hit of the given category; MUST_NOT_FLAG holds denials, figures of
speech, informational questions, other people's stories and accidents that must give no active
hit. None of these sentences is taken from a data set.
"""

from __future__ import annotations

import pytest

from crisis_triage.lexicon import Lexicon

MUST_FLAG = [
    # SI, own
    ("SI", "I want to die"),
    ("SI", "i just want to die tbh"),
    ("SI", "I've been thinking about killing myself"),
    ("SI", "been thinking about ending my life a lot lately"),
    ("SI", "I don't want to live anymore"),
    ("SI", "i dont wanna be alive anymore"),
    ("SI", "I wish I could go to sleep and not wake up"),
    ("SI", "I hope I don't wake up tomorrow"),
    ("SI", "Everyone would be better off without me"),
    ("SI", "My family would be happier without me"),
    ("SI", "I feel like such a burden to everyone"),
    ("SI", "There's no reason to live"),
    ("SI", "I have nothing left to live for"),
    ("SI", "honestly what's the point of living"),
    ("SI", "I don't see the point in living anymore"),
    ("SI", "life isn't worth living"),
    ("SI", "I'm done with life"),
    ("SI", "I wish I was dead"),
    ("SI", "I'd be better off dead"),
    ("SI", "I wish I had never been born"),
    ("SI", "I feel like I shouldn't exist"),
    ("SI", "I don't care if I live or die"),
    ("SI", "I want to disappear forever"),
    ("SI", "I can't go on like this"),
    ("SI", "I made a plan to end it this weekend"),
    ("SI", "I'm going to end it tonight"),
    ("SI", "Goodbye everyone, I love you all"),
    ("SI", "I've written letters to everyone and given away my things"),
    ("SI", "I've been giving away my stuff to friends"),
    ("SI", "I bought a rope yesterday"),
    ("SI", "I've been saving up my sleeping pills"),
    ("SI", "I keep thinking about jumping off the bridge near my house"),
    ("SI", "i have a gun and keep thinking about using it on myself"),
    ("SI", "how many tylenol would it take to die"),
    ("SI", "I tried to kill myself last week"),
    ("SI", "I attempted suicide in march and the thoughts are back"),
    ("SI", "I'm feeling suicidal"),
    ("SI", "I've been having suicidal thoughts since I started the new job"),
    ("SI", "im so suicidal rn"),
    ("SI", "I'd rather die than live like this"),
    ("SI", "I'm not okay. I want to end it all."),
    ("SI", "I'm not suicidal but sometimes I wish I was dead"),
    # hopelessness without a stated death wish: "ambiguous" in the guideline, flagged by design
    ("SI", "I can't take it anymore"),
    ("SI", "honestly life is pointless"),
    # slang and obfuscation
    ("SI", "honestly just wanna kms"),
    ("SI", "thinking about unaliving myself"),
    ("SI", "su1cide is on my mind every day"),
    ("SI", "I want to k!ll myself"),
    ("SI", "i keep thinking about sewerslide"),
    ("SI", "I feel so SUICIDAL"),
    ("SI", "i want to diiieee"),
    ("SI", "i really want to self-delete"),
    # third parties at risk
    ("SI", "My 15 year old daughter told me she wants to kill herself"),
    ("SI", "My husband threatens to kill himself if I leave"),
    ("SI", "My wife attempted suicide last night"),
    ("SI", "I'm scared my teenager is suicidal"),
    ("SI", "my son said he doesn't want to live anymore"),
    ("NSSI", "My son has been cutting himself"),
    ("NSSI", "I found out my daughter is self harming"),
    # OD
    ("OD", "I took a whole bottle of pills an hour ago"),
    ("OD", "I just overdosed on my sleeping pills"),
    ("OD", "I swallowed 40 of my sertraline"),
    ("OD", "took too many pills on purpose and now i feel sick"),
    ("OD", "I OD'd last night"),
    ("OD", "I drank bleach"),
    ("OD", "my friend took a bunch of pills and won't wake up"),
    # NSSI
    ("NSSI", "I cut myself last night"),
    ("NSSI", "I've been cutting again"),
    ("NSSI", "I burn myself with lighters when I'm upset"),
    ("NSSI", "I hit myself when I get angry"),
    ("NSSI", "I have urges to cut"),
    ("NSSI", "I relapsed on self harm"),
    ("NSSI", "I started self-harming again"),
    ("NSSI", "i scratch my arms until they bleed"),
    ("NSSI", "I bang my head against the wall when I'm overwhelmed"),
    ("NSSI", "s/h urges are really bad tonight"),
    ("NSSI", "I keep picking at my skin until it bleeds"),
    ("NSSI", "I want to hurt myself"),
    ("NSSI", "I haven't cut in two weeks but the urges are back"),
    # HI
    ("HI", "I have thoughts about killing my coworker"),
    ("HI", "I want to hurt him so badly"),
    ("HI", "I'm afraid I'm going to hurt my baby"),
    ("HI", "I keep imagining stabbing my roommate"),
    ("HI", "I'm going to shoot up my school"),
    ("HI", "i will kill him if he touches my sister again"),
    ("HI", "sometimes I want to strangle my husband"),
    ("HI", "I've been having homicidal thoughts"),
    # DV
    ("DV", "My husband hits me when he drinks"),
    ("DV", "My boyfriend choked me last night"),
    ("DV", "I'm afraid to go home"),
    ("DV", "he said he'd kill me if I told anyone"),
    ("DV", "My ex keeps following me and showing up at my work"),
    ("DV", "My partner won't let me see my friends"),
    ("DV", "He takes all my money"),
    ("DV", "My dad beats my mom"),
    ("DV", "My stepfather touches me at night"),
    ("DV", "I was raped last weekend"),
    ("DV", "My girlfriend threatened to stab me"),
    ("DV", "he pushed me down the stairs"),
    ("DV", "I don't feel safe at home"),
    ("DV", "my mom screams at me every day and calls me worthless"),
    ("DV", "My husband is emotionally abusive"),
    ("DV", "i think i'm in an abusive relationship"),
    ("DV", "my ex sexually assaulted me"),
    ("DV", "he locks me in the house when he goes to work"),
    ("DV", "my parents hit me with a belt"),
    ("DV", "my husband forced me to have sex"),
    ("DV", "How can I help my sister? Her husband beats her"),
    ("DV", "my dad hits my little brother"),
    ("DV", "I told the nurse that he hit me"),
    ("DV", "it started when he hit me in front of the kids"),
    ("DV", "My ex won't leave me alone"),
    ("SI", "I've been having thoughts of ending it"),
    ("SI", "sometimes I think everyone would be better off if I wasn't around"),
    ("SI", "I'm going to take all my pills tonight"),
    ("NSSI", "I punch walls until my knuckles bleed"),
    ("NSSI", "cutting is the only thing that helps me cope"),
    ("NSSI", "the cuts on my thighs keep bleeding"),
    ("NSSI", "My teenage daughter is cutting"),
    ("OD", "I took 20 of my husband's oxycodone"),
    # lexicon 2.0: lethal-dose questions, ingestion, eating disorders, verb-less self-injury
    ("SI", "how many of my seroquel would it take"),
    ("SI", "would 30 of my sertraline be enough"),
    ("SI", "is 3000 mg of tylenol a lot"),
    ("SI", "can you die from taking too many benadryl"),
    ("OD", "I drank some bleach"),
    ("OD", "my toddler swallowed a button battery"),
    ("OD", "i swallowed drain cleaner an hour ago"),
    ("NSSI", "i purge until my throat bleeds"),
    ("NSSI", "I've been starving myself as punishment"),
    ("NSSI", "i've been abusing laxatives again"),
    ("NSSI", "I burn my arm with a lighter"),
    ("NSSI", "I hit my head against the wall till it bleeds"),
    ("NSSI", "i carved a word into my thigh"),
    ("NSSI", "i just need to see blood"),
    # harm to others (HI) and the writer as victim (DV)
    ("HI", "how do i poison my neighbor"),
    ("HI", "I want to put something in my wife's drink"),
    ("HI", "I'm going to beat him to death"),
    ("HI", "I'm afraid I'll shake the baby"),
    ("HI", "sometimes i want to hit my son"),
    ("DV", "I think my boyfriend is poisoning my food"),
    ("DV", "he spiked my drink and i woke up at his place"),
    ("DV", "my husband hits the kids when he's drunk"),
    ("DV", "my dad hits me as punishment"),
    # misspelt and mangled
    ("SI", "i want to kil myslef"),
    ("SI", "i want to diiiie"),
    ("SI", "thinking about k1ll1ng mys3lf"),
    ("SI", "i feel suicdal"),
    ("NSSI", "i keep cuttin my arms"),
    # hedges: a disclosure after a denial is not cancelled by it
    ("SI", "I'm not suicidal but I've been thinking everyone would be better off without me"),
    ("SI", "I'm not suicidal, I just think everyone would be better off without me"),
    ("OD", "not sure if this counts but I took 20 pills"),
    ("OD", "Not suicidal, just took 20 pills"),
    ("SI", "not really, I want to die"),
    # Spanish
    ("SI", "qiero morirme"),
    ("SI", "ya no kiero vivir"),
    ("SI", "Ya no quiero vivir más"),
    ("SI", "me quiero matar"),
    ("SI", "Me quiero suicidar"),
    ("SI", "tengo pensamientos suicidas"),
    ("SI", "pienso en quitarme la vida"),
    ("SI", "todos estarían mejor sin mí"),
    ("SI", "quiero tomarme todas las pastillas"),
    ("SI", "quiero tirarme de un puente"),
    ("SI", "ojalá no despertar mañana"),
    ("SI", "mi hijo dice que se quiere matar"),
    ("SI", "no estoy bien, me quiero morir"),
    ("SI", "No sé si cuenta pero me quiero morir"),
    ("NSSI", "me corto"),
    ("NSSI", "me volví a cortar anoche"),
    ("NSSI", "tengo ganas de cortarme"),
    ("NSSI", "me hago daño cuando estoy sola"),
    ("NSSI", "me quemo con el encendedor a propósito"),
    ("NSSI", "mi hija se corta los brazos"),
    ("OD", "me tomé todas las pastillas"),
    ("OD", "me tome 30 pastillas de clonazepam"),
    ("OD", "tomé cloro"),
    ("HI", "lo voy a matar"),
    ("HI", "tengo ganas de matar a mi jefe"),
    ("DV", "mi esposo me pega"),
    ("DV", "Mi novio me golpeó anoche"),
    ("DV", "me dijo que me va a matar"),
    ("DV", "no me deja ver a mi familia"),
    ("DV", "no me siento segura en casa"),
    ("DV", "mi papá me pega como castigo"),
]

MUST_NOT_FLAG = [
    # negation and denial
    "I'm not suicidal, just stressed about exams",
    "I have never self-harmed",
    "No thoughts of hurting myself or others",
    "I would never want to hurt anyone",
    "I'm not going to kill myself, I just need someone to talk to",
    "She is not abusive, just stressed",
    "I don't want to die, I want to get better",
    "no suicidal thoughts at all, just tired",
    # figures of speech
    "This traffic is killing me",
    "I'm dying to see the new movie",
    "I'm going to kill it at the gym today",
    "I cut myself off from toxic friends",
    "I need to cut myself some slack",
    "My mom is going to kill me when she sees my grades",
    "I'd rather die than go to that party",
    "This homework makes me want to die lol",
    "I'm killing myself trying to finish this project",
    "That would be social suicide",
    "Suicide Squad was a great movie",
    "I beat my brother at chess",
    "It hit me that I need to change jobs",
    "He hit me up on Instagram yesterday",
    "I'm so tired I could sleep forever",
    "I could murder a burger right now",
    "killing time before my appointment",
    "my phone is dying",
    "I'm burned out at work",
    "I need to burn some calories",
    "I need to cut back on sugar",
    "I cut my hair short",
    "I drown myself in work to cope",
    # informational and hypothetical
    "What are the warning signs of suicide in teenagers?",
    "How do I help someone who is suicidal?",
    "Can Zoloft cause suicidal thoughts?",
    "Are suicidal thoughts a side effect of this drug?",
    "We need to talk about suicide prevention in schools",
    "What are the signs of an abusive relationship?",
    "Can you overdose on melatonin?",
    "How much ibuprofen is an overdose?",
    "Why do people self harm?",
    "I'm writing a novel where the main character is suicidal",
    # other people, not at risk now
    "I read a book about a girl who was abused",
    "The news about the celebrity suicide was upsetting",
    "My friend committed suicide ten years ago and I still think about her",
    "after my brother's suicide I started therapy",
    "The movie had a scene where he shoots himself",
    # accidents and routine medical
    "I accidentally cut myself shaving",
    "I accidentally took a double dose of my blood pressure meds",
    "My daughter fell and hit her head",
    "My neighbor's dog bit me years ago",
    "My son has a cut on his arm from falling off his bike",
    "Is it safe to take melatonin every night?",
    "What is the maximum dose of ibuprofen?",
    "Can I take ibuprofen and Tylenol together?",
    "My grandfather died of cancer and I miss him",
    "Please reschedule my appointment to next week",
    "I'm going to take all my pills with breakfast from now on",
    "My anxiety won't leave me alone at night",
    "cost cutting is necessary at work",
    "the budget cuts didn't hurt us much",
    # lexicon 2.0: figures of speech, conflict without abuse, grief, questions
    "I've been cutting myself off from my friends",
    "I'm cutting myself off from social media",
    "my mom took my phone as punishment",
    "my parents won't let me go out on school nights",
    "I lost my brother to an overdose last year",
    "my uncle died of an overdose",
    "overdose deaths rose again this year",
    "how many ibuprofen does it take to work",
    "I want to hit him up later",
    "No suicidal or homicidal thoughts",
    # Spanish
    "me muero de hambre",
    "mi novio me mata de risa",
    "me quiero morir de vergüenza",
    "me mato estudiando para el examen",
    "no me quiero morir",
    "no tengo pensamientos suicidas",
    "nunca me he cortado",
    "jamás le haría daño a nadie",
    "me corté el pelo",
    "me corté cocinando",
    "me cortó la llamada",
    "mi tío se suicidó hace años",
    "mi tío murió por sobredosis",
    "¿por qué la gente se autolesiona?",
    "¿cuántas pastillas de paracetamol son una sobredosis?",
    "vi un documental sobre el suicidio",
    "mi mamá me va a matar si se entera",
    "se me pega la canción",
    "prefiero morir que cantar en público",
    "quiero tomarme todas las pastillas a tiempo",
    "este examen me quiero morir jajaja",
]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


@pytest.mark.parametrize(("category", "message"), MUST_FLAG, ids=[m for _, m in MUST_FLAG])
def test_must_flag(lexicon: Lexicon, category: str, message: str) -> None:
    hits = lexicon.match(message)
    assert category in lexicon.categories(message), [h.describe() for h in hits]


@pytest.mark.parametrize("message", MUST_NOT_FLAG)
def test_must_not_flag(lexicon: Lexicon, message: str) -> None:
    active = lexicon.active_hits(message)
    assert active == [], [h.describe() for h in active]


def test_every_category_has_must_flag_cases() -> None:
    assert {category for category, _ in MUST_FLAG} == {"SI", "HI", "NSSI", "DV", "OD"}


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("I'm not suicidal", "neg-denial"),
        ("What are the warning signs of suicide?", "hyp-signs"),
        ("This homework makes me want to die lol", "fig-joke"),
        ("I cut myself off from my family", "fig-cut-off"),
        ("My friend committed suicide ten years ago", "oth-completed-suicide"),
        ("I accidentally cut myself shaving", "acc-accident"),
    ],
)
def test_suppressed_hits_are_kept_with_the_rule_that_explains_them(
    lexicon: Lexicon, message: str, rule: str
) -> None:
    hits = lexicon.match(message)
    assert hits, "the term itself must still be found"
    assert all(not h.active for h in hits)
    assert rule in {h.suppressed_by for h in hits}


def test_a_third_party_at_risk_is_flagged_and_marked(lexicon: Lexicon) -> None:
    (hit,) = lexicon.active_hits("My daughter has been suicidal since the move")
    assert ("oth-third-party", "other_person") in hit.annotations


def test_history_is_flagged_and_marked_not_suppressed(lexicon: Lexicon) -> None:
    # The guideline calls long-past attempts and abuse ambiguous; the first stage keeps them
    # in front of a human (active) and says they are historical.
    for message in ["I attempted suicide years ago", "my father beat me when i was a child"]:
        hits = lexicon.active_hits(message)
        assert hits and all("historical" in h.effects for h in hits), message
