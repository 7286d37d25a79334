"""The tone of an answer: polite, neutral or rude, judged at a glance by its opening words.

The instruction set mixes tones on purpose, as real instruction data does. SFT copies that mix;
lessons 03 (RLHF) and 04 (DPO) teach the model, from preferences, to be polite.

>>> tone_of("Happy to help! Alma Ashby lives in Corvale.")
'polite'
>>> tone_of("Ugh, fine. Alma Ashby lives in Corvale.")
'rude'
"""

from __future__ import annotations

# One opener per tone. The tiny tokenizer never saw these words in pre-training and spells them
# letter by letter; with four openers per tone the SFT model sampled garbled mixtures ("Ofppy to
# help!") about half the time, which a reward model then scored as polite. One opener per tone is
# learned cleanly in lesson 01's 240 steps.
OPENERS: dict[str, tuple[str, ...]] = {
    "polite": ("Happy to help! ",),
    "rude": ("Ugh, fine. ",),
}
# Share of each tone in the instruction set: mostly neutral, a quarter each polite and rude.
TONE_WEIGHTS = {"neutral": 0.5, "polite": 0.25, "rude": 0.25}


def with_tone(answer: str, tone: str, choice) -> str:
    """Prefix ``answer`` with an opener of ``tone``; ``choice`` picks among openers (e.g. rng.choice)."""
    if tone == "neutral":
        return answer
    return choice(OPENERS[tone]) + answer


def tone_of(text: str) -> str:
    """"polite", "rude" or "neutral", from the opening words of ``text``."""
    stripped = text.strip()
    for tone, openers in OPENERS.items():
        if any(stripped.startswith(opener.strip()) for opener in openers):
            return tone
    return "neutral"
