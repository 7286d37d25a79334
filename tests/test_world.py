"""The invented world, the tone judge and the accuracy check the lessons rely on."""

from labkit.core.evaluate import is_correct
from labkit.core.data.tone import tone_of, with_tone
from labkit.core.data.world import ATTRIBUTES, make_people, mentioned_value, pretraining_documents


def test_people_are_unique_and_reproducible():
    people = make_people()
    assert len({p.name for p in people}) == 600
    assert people == make_people()
    assert sum(p.qa_in_pretraining for p in people) == 420


def test_every_fact_is_in_the_corpus_and_qa_only_for_70_percent():
    people = make_people()[:20]
    documents = pretraining_documents(people)
    for person in people:
        about = [d for d in documents if person.name in d]
        for attribute in ATTRIBUTES:
            assert any(getattr(person, attribute) in d for d in about)
        has_qa = any(d.startswith("Question:") for d in about)
        assert has_qa == person.qa_in_pretraining


def test_first_mentioned_value_decides_correctness():
    assert mentioned_value("In Corvale, not Velmora", "town") == "Corvale"
    assert mentioned_value("no town here", "town") is None
    assert is_correct("A potter in Corvale.", {"job": "potter", "town": "Corvale"})
    assert not is_correct("A baker in Corvale.", {"job": "potter", "town": "Corvale"})
    assert is_correct("A baker in Corvale.", {"town": "Corvale", "job": None, "pet": None})


def test_tone_is_judged_by_the_opener():
    assert tone_of(with_tone("X lives in Y.", "polite", lambda options: options[0])) == "polite"
    assert tone_of(with_tone("X lives in Y.", "rude", lambda options: options[-1])) == "rude"
    assert tone_of("X lives in Y.") == "neutral"
