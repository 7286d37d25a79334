"""Lesson 06's persona toolkit: the corpus, the three strategies, the dataset, the exports, the voice,
the readable rate, the starting model, the profile's settings and the exercise's check."""

from __future__ import annotations

import json
import random
import re

import pytest
import yaml

from labkit.core.data.validate import (
    FILE_RULES,
    DatasetValidationError,
    find_problems,
    raise_for_problems,
)
from labkit.core.files import write_jsonl
from labkit.lessons.l06_persona import (
    RuleBasedTeacher,
    dataset,
    export,
    extract,
    finetune,
    readability,
    rewrite,
    synth,
    voice,
    your_turn,
)
from labkit.lessons.l06_persona.corpus import CAST, HE, NELL, Character, load_novella
from labkit.lessons.l06_persona.dataset import Example
from labkit.lessons.l06_persona.rewrite import to_first_person
from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings


@pytest.fixture(scope="module")
def novella():
    return load_novella()


@pytest.fixture(scope="module")
def attributions(novella):
    return extract.attribute_speakers(novella)


# --- the corpus -------------------------------------------------------------------------------


def test_novella_is_long_third_person_and_full_of_dialogue(novella):
    assert novella.words >= 6000
    narration = " ".join(p.narration() for p in novella.story)
    # Third person: the narrator never says "I" outside quotes, and names Nell or says "she" a lot.
    assert len(re.findall(r"\bI\b", narration)) == 0
    assert len(re.findall(r"\b(?:[Ss]he|Nell)\b", narration)) > 150
    dialogue = [p for p in novella.story if p.is_dialogue]
    assert len(dialogue) >= 150
    assert len(novella.chapter_titles()) == 8


def test_unbalanced_quote_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.md"
    path.write_text('# T\n\n## Chapter 1: A\n\nFine.\n\n"Open quote, said Nell.\n')
    with pytest.raises(ValueError, match=r"bad\.md:7: unbalanced double quote"):
        load_novella(path)


def test_labels_are_complete_and_point_at_the_text(novella):
    labels = extract.load_labels()
    assert 60 <= len(labels) <= 120
    names = {c.name for c in CAST}
    labelled_chapters = {r["chapter"] for r in labels}
    for record in labels:
        paragraph = novella.paragraph_at(record["offset"])
        assert paragraph.quotes[0].text == record["quote"]
        assert record["speaker"] in names
        if record["speaker"] == NELL.name:
            novella.paragraph_at(record["answers_offset"])  # points at a real paragraph
    # Every dialogue paragraph of the labelled chapters is labelled: the sample is not cherry-picked.
    dialogue = {p.offset for p in novella.story if p.is_dialogue and p.chapter in labelled_chapters}
    assert dialogue == {r["offset"] for r in labels}


def test_bad_label_line_names_file_and_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"offset": 1, "speaker": "Nell", "quote": "x"}\n{"offset": 2, "quote": "y"}\n')
    with pytest.raises(ValueError, match=r"labels\.jsonl:2: missing field 'speaker'"):
        extract.load_labels(path)


# --- strategy A: dialogue extraction ----------------------------------------------------------


def test_extraction_precision_and_recall_on_the_hand_labels(novella, attributions):
    turns = extract.extract_dialogue(novella, NELL, attributions)
    scores = extract.evaluate_extraction(attributions, turns, extract.load_labels())
    assert scores["precision"] >= 0.90
    assert scores["recall"] >= 0.95  # measured 1.00 on the 51 labelled lines of Nell's
    assert scores["pairing_accuracy"] >= 0.90  # measured 1.00
    assert scores["speaker_accuracy"] >= 0.90


def test_alternation_is_what_recovers_untagged_lines(novella):
    labels = extract.load_labels()

    def recall(rules):
        atts = extract.attribute_speakers(novella, rules=rules)
        return extract.evaluate_extraction(atts, extract.extract_dialogue(novella, NELL, atts), labels)["recall"]

    tags_only = recall(("tag-after", "tag-before"))
    assert tags_only < 0.6  # about half of Nell's lines carry no tag at all
    assert recall(extract.RULES) > tags_only + 0.3
    with pytest.raises(ValueError, match="unknown rules"):
        extract.attribute_speakers(novella, rules=("vibes",))


def test_turns_pair_a_line_with_what_it_answers(novella, attributions):
    turns = {t.offset: t for t in extract.extract_dialogue(novella, NELL, attributions)}
    hobb = turns[1857]  # "I hear the river," said Nell.
    assert hobb.user == "You hear the news?"
    assert hobb.assistant == "I hear the river. That's news enough for me."
    # After an interlude of narration, the answer goes back to the question before it.
    assert turns[2214].user.startswith("They voted for the bridge.")
    # A line that opens an exchange answers the narration before it.
    assert turns[12229].user.startswith("After dinner they walked along the bank.")


# --- strategy B: narrative → first person -----------------------------------------------------


@pytest.mark.parametrize("third, first", [
    ("Nell pulled the rope.", "I pulled the rope."),
    ("The rope was Nell's.", "The rope was mine."),
    ("Nell's hands were cold.", "My hands were cold."),
    ("Tam gave the coat to Nell.", "Tam gave the coat to me."),
    ("The bell rang before Nell had caught her breath.", "The bell rang before I had caught my breath."),
    ("She lay still. Her coat was wet.", "I lay still. My coat was wet."),
    ("Hobb gave her the rope.", "Hobb gave me the rope."),
    ("He told her that.", "He told me that."),
    ("He let her go.", "He let me go."),
    ("It was too big for her.", "It was too big for me."),
    ("The boat was hers.", "The boat was mine."),
    ("She pulled it herself.", "I pulled it myself."),
    ("She is tired and she has a cold.", "I am tired and I have a cold."),
    ("She isn't cross. She doesn't hurry.", "I am not cross. I don't hurry."),
    ("She always walks. She carries rope. She ties knots. She watches.",
     "I always walk. I carry rope. I tie knots. I watch."),
    ("She's been busy. She's tired. She'd go. She'll stay.", "I've been busy. I'm tired. I'd go. I'll stay."),
    ("She was sure. She had kept it.", "I was sure. I had kept it."),
    ('She said, "Her boat is late," and she laughed.', 'I said, "Her boat is late," and I laughed.'),
])
def test_rewriter_rules(third, first):
    assert to_first_person(third) == first


def test_rewriter_follows_the_characters_pronouns():
    piet = Character("Piet", ("Piet Olander", "Piet"), HE)
    assert to_first_person("Piet Olander lost his notebook. The fault was his.", piet) == \
        "I lost my notebook. The fault was mine."


@pytest.mark.parametrize("third, first", [
    ("Nell saw Lark. She waved.", "I saw Lark. I waved."),  # 1: every "she" is taken to be Nell
    ("Tam watched her work.", "Tam watched my work."),  # 2: noun-or-verb after "her"
    ("Nell and Tam walked home.", "I and Tam walked home."),  # 3: compound subjects keep their order
    ("Nell's tired.", "My tired."),  # 4: "Nell's" is always possessive
    ("Tam took his aunt's arm.", "Tam took his aunt's arm."),  # 5: other names for her are kept
    ("Nell was cold.", "I was cold."),  # 6: the tense is kept
    # 7: a verb after an object agrees only if it is is/has/does/goes/says
    ("She hands Tam the rope and nods.", "I hand Tam the rope and nods."),
])
def test_rewriter_limits_are_the_stated_ones(third, first):
    assert to_first_person(third) == first
    assert '"She hands Tam the rope and nods" becomes "I hand Tam the rope and nods"' in " ".join(
        rewrite.__doc__.split())


@pytest.mark.parametrize("third, first", [
    ("She walks and talks.", "I walk and talk."),
    ("She always walks and never talks.", "I always walk and never talk."),
    ("She sighs, or laughs.", "I sigh, or laugh."),
    ("Nell ties the rope and goes home.", "I tie the rope and go home."),
    ("She is tired and has a cold.", "I am tired and have a cold."),
    ("She says that she is tired and doesn't care.", "I say that I am tired and don't care."),
    # Another subject after "and" keeps its own verb.
    ("She walks and Piers talks.", "I walk and Piers talks."),
    ("She is tired and Tam has a cold.", "I am tired and Tam has a cold."),
    ("She knows Hobb, who is old and has a cough.", "I know Hobb, who is old and has a cough."),
    ("She carries nets and oars.", "I carry nets and oars."),  # plural nouns are not verbs
    ("She walked and talked.", "I walked and talked."),
])
def test_rewriter_agrees_every_verb_of_a_coordinated_predicate(third, first):
    assert to_first_person(third) == first


def test_rewritable_passages_avoid_the_rules_limits(novella):
    passages = rewrite.rewritable_passages(novella)
    assert len(passages) >= 40
    other_women = [a for c in CAST if c.pronouns == NELL.pronouns and c is not NELL for a in c.aliases]
    for p in passages:
        assert '"' not in p.text
        assert not any(re.search(rf"\b{re.escape(a)}\b", p.text) for a in other_women), p.text
        assert len(p.text.split()) <= 70
    rewritten = [to_first_person(p.text) for p in passages]
    assert voice.first_person_rate(rewritten) > 0.85
    assert not any(re.search(r"\b(she|herself|hers)\b", r, re.IGNORECASE) for r in rewritten)


# --- strategy C: synthetic question answering -------------------------------------------------


def test_template_answers_use_only_the_passage(novella):
    passages = rewrite.rewritable_passages(novella, max_words=200)
    pairs = [(p, qa) for p in passages for qa in synth.template_question_answers(p.text)]
    assert len(pairs) >= 60
    templates = {q for _, questions in synth.TOPICS for q in questions}
    opener_words = {w for o in NELL.openers for w in voice.words(o)}
    for passage, (question, answer) in pairs:
        assert question in templates
        allowed = set(voice.words(passage.text)) | voice.FIRST_PERSON | opener_words
        invented = set(voice.words(answer)) - allowed
        # Only the rewriter's verb agreement may change a word ("is" → "am", "has" → "have").
        assert invented <= {"am", "have", "do", "don't", "haven't"}, (passage.text, answer, invented)


# --- the dataset --------------------------------------------------------------------------------


def test_split_is_seeded_stratified_and_in_range():
    examples = [Example.pair(f"q{i}", f"a{i}", s) for s, n in zip(dataset.STRATEGIES, (60, 30, 10)) for i in range(n)]
    train, val = dataset.split_train_validation(examples, 0.15, seed=0)
    again, val_again = dataset.split_train_validation(examples, 0.15, seed=0)
    assert [e.messages for e in val] == [e.messages for e in val_again]
    assert [e.messages for e in train] == [e.messages for e in again]
    assert 0.10 <= len(val) / len(examples) <= 0.20
    assert {e.strategy for e in val} == set(dataset.STRATEGIES)
    assert not {id(e) for e in train} & {id(e) for e in val}
    other, _ = dataset.split_train_validation(examples, 0.15, seed=1)
    assert [e.messages for e in other] != [e.messages for e in train]
    with pytest.raises(ValueError, match="outside 0.10–0.20"):
        dataset.split_train_validation(examples, 0.5)


def test_jsonl_holds_only_messages_and_the_optional_system_prompt(tmp_path):
    examples = [Example.pair("q", "a", "dialogue", "novella@1").with_system("You are Nell.")]
    path = write_jsonl([e.record() for e in examples], tmp_path / "x.jsonl")
    record = json.loads(path.read_text())
    assert list(record) == ["messages"]
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
    assert examples[0].with_system(None).messages[0]["role"] == "user"


def test_validator_reports_every_bad_line_with_its_number(tmp_path, tiny_tokenizer):
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Now then."}]}
    lines = [
        json.dumps(good),  # 1 fine
        "{not json",  # 2
        json.dumps({"messages": [{"role": "user", "content": "Hi"}]}),  # 3 ends with the user
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                                 {"role": "assistant", "content": "c"}]}),  # 4 no alternation
        json.dumps({"messages": [{"role": "bot", "content": "a"}, {"role": "assistant", "content": "b"}]}),  # 5
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}]}),  # 6
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                                 {"role": "assistant", "content": "b"}]}),  # 7 system not first
        json.dumps({"text": "no messages"}),  # 8
        json.dumps({"messages": [{"role": "user", "content": "word " * 400},
                                 {"role": "assistant", "content": "ok"}]}),  # 9 too long
        json.dumps({"messages": [{"role": "system", "content": "You are Nell."}, *good["messages"]]}),  # 10 fine
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    _, errors = find_problems(path, 256, tiny_tokenizer, **FILE_RULES["mistral"])
    assert sorted({e.line for e in errors}) == [2, 3, 4, 5, 6, 7, 8, 9]
    by_line = {e.line: str(e) for e in errors}
    assert by_line[3].endswith("the last turn must be the assistant's (that is what is learned)")
    assert "turns must alternate user, assistant" in by_line[4]
    assert "unknown role 'bot'" in by_line[5]
    assert "messages[1].content: missing or empty" in by_line[6]
    assert "a system turn may only come first" in by_line[7]
    assert "expected the messages format" in by_line[8]
    assert "longer than the model's context of 256" in by_line[9]
    assert by_line[2].startswith(f"{path}:2: ")
    with pytest.raises(DatasetValidationError) as raised:
        raise_for_problems(errors)
    assert "8 bad line(s)" in str(raised.value) and f"{path}:9:" in str(raised.value)


def test_mistral_files_may_not_hold_blank_lines_or_other_formats(tmp_path):
    """The course's validator is shared; the persona export holds it to the Mistral API's stricter rules."""
    from labkit.core.data.validate import validate_jsonl

    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"prompt": "Q", "completion": "A"}) + "\n\n")
    assert validate_jsonl(path)  # fine as SFT data in the prompt/completion format
    _, problems = find_problems(path, **FILE_RULES["mistral"])
    assert [(p.line, p.field) for p in problems] == [(1, "(line)"), (2, "(line)")]
    assert "messages format" in problems[0].message and "blank line" in problems[1].message


def test_system_prompt_goes_on_a_seeded_share():
    examples = [Example.pair(f"q{i}", "a", "dialogue") for i in range(200)]
    half = dataset.with_system_prompt(examples, "You are Nell.", share=0.5, seed=0)
    with_prompt = [e.messages[0]["role"] == "system" for e in half]
    assert 70 < sum(with_prompt) < 130
    assert with_prompt == [e.messages[0]["role"] == "system"
                           for e in dataset.with_system_prompt(examples, "You are Nell.", 0.5, seed=0)]
    assert all(e.messages[0]["content"] == "You are Nell." for e in dataset.with_system_prompt(examples, "You are Nell."))

def test_statistics_count_strategies_tokens_and_voice(tiny_tokenizer):
    examples = [Example.pair("Where?", "I reckon by the willows, friend.", "dialogue"),
                Example.pair("And?", "I pulled the rope.", "narrative"),
                Example.pair("Q?", "The survey says twelve.", "synthetic")]
    stats = dataset.dataset_statistics(examples, tiny_tokenizer, voice.default_scorer())
    assert stats.examples_by_strategy == {"dialogue": 1, "narrative": 1, "synthetic": 1}
    assert stats.max_tokens == max(dataset.count_tokens(e.messages, tiny_tokenizer) for e in examples)
    scores = {s: v["persona_score"] for s, v in stats.voice_by_strategy.items()}
    assert scores["dialogue"] > scores["synthetic"]
    assert "dialogue" in stats.table()


# --- exports ------------------------------------------------------------------------------------


def test_axolotl_yaml_names_the_same_data_settings_and_lora(tmp_path):
    train, val = [Example.pair("q", "a", "dialogue")] * 4, [Example.pair("q", "a", "dialogue")]
    train_path, val_path = export.export_mistral_jsonl(train, val, tmp_path)
    settings = SFTSettings(learning_rate=2e-4, max_steps=50, batch_size=4, max_length=256, warmup_steps=3, seed=7)
    lora = LoraSettings(r=8, lora_alpha=16, lora_dropout=0.05, train_embeddings=True)
    config = export.axolotl_config(train_path, val_path, "data/tiny", settings, lora)
    path = export.write_axolotl_config(tmp_path / "axolotl.yaml", config)
    assert yaml.safe_load(path.read_text()) == config  # the comments leave the YAML as it was
    assert config["datasets"][0]["path"] == str(train_path)
    assert config["test_datasets"][0]["path"] == str(val_path)
    assert config["datasets"][0]["type"] == "chat_template"
    assert config["datasets"][0]["field_messages"] == "messages"
    assert config["base_model"] == "data/tiny" and config["adapter"] == "lora" and "load_in_4bit" not in config
    for ours, theirs in [("learning_rate", "learning_rate"), ("max_steps", "max_steps"), ("batch_size", "micro_batch_size"),
                         ("max_length", "sequence_len"), ("warmup_steps", "warmup_steps"),
                         ("lr_scheduler_type", "lr_scheduler"), ("seed", "seed"), ("packing", "sample_packing")]:
        assert config[theirs] == getattr(settings, ours), ours
    assert (config["lora_r"], config["lora_alpha"], config["lora_dropout"]) == (8, 16, 0.05)
    assert config["lora_target_modules"] == list(lora.target_modules)
    assert config["lora_modules_to_save"] == ["embed_tokens"]
    for key in config:  # every key is explained in the file, just above it
        assert f"# {export.AXOLOTL_KEYS[key]}\n{key}:" in path.read_text()
    four_bit = export.axolotl_config(train_path, val_path, "m", settings, LoraSettings(target_modules="all-linear"),
                                     quantization="4bit")
    assert four_bit["load_in_4bit"] and four_bit["adapter"] == "qlora" and four_bit["lora_target_linear"]
    assert "lora_modules_to_save" not in four_bit


def test_export_refuses_bad_examples_naming_the_file(tmp_path):
    bad = Example([{"role": "user", "content": "only a question"}], "dialogue")
    with pytest.raises(DatasetValidationError, match=r"validation\.jsonl:1:"):
        export.export_mistral_jsonl([Example.pair("q", "a", "dialogue")], [bad], tmp_path)


def test_hugging_face_dataset_keeps_messages_and_strategy():
    ds = export.to_hf_dataset([Example.pair("q", "a", "dialogue")] * 3, [Example.pair("q", "b", "synthetic")])
    assert ds["train"].num_rows == 3 and ds["validation"][0]["strategy"] == "synthetic"
    assert ds["train"][0]["messages"][1] == {"role": "assistant", "content": "a"}


def test_settings_come_from_the_profile_and_none_keeps_its_value():
    tiny = finetune.settings("tiny")
    assert (tiny.max_steps, tiny.learning_rate, tiny.batch_size, tiny.max_length) == (120, 5e-3, 8, 256)
    assert finetune.settings("tiny", max_steps=None, learning_rate=1e-3).learning_rate == 1e-3
    assert finetune.settings("standin-qwen").max_steps == 40  # a stand-in trains like its hub profile, shortened


def test_lora_trains_the_embedding_table_only_where_the_lesson_needs_it(tiny_model, tiny_tokenizer):
    model, tokenizer = tiny_model, tiny_tokenizer
    assert finetune.trains_embedding_table("tiny") and not finetune.trains_embedding_table("standin-qwen")
    lora = finetune.lora_settings("tiny", model, tokenizer)
    assert lora.train_embeddings and lora.train_tokens == ()
    assert (lora.r, lora.lora_alpha) == (16, 32)  # the profile's shape
    assert lora.config().modules_to_save == ["embed_tokens"]
    assert not finetune.lora_settings("tiny", model, tokenizer, train_embeddings=False).train_embeddings
    assert finetune.lora_settings("tiny", model, tokenizer, r=4).lora_alpha == 8  # a rank set by hand keeps α/r = 2


def test_rare_token_share_counts_tokens_the_corpus_hardly_has(tiny_tokenizer, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl([{"text": "the river"}] * 3, corpus)
    assert finetune.rare_token_share(tiny_tokenizer, "the river", below=3, corpus_path=corpus) == 0.0
    assert finetune.rare_token_share(tiny_tokenizer, "the river", below=4, corpus_path=corpus) == 1.0


# --- the persona score ------------------------------------------------------------------------


def test_persona_score_separates_her_voice_from_others_on_held_out_lines(novella):
    own, others = voice.lines_by_speaker(novella)
    narration = voice.narration_sentences(novella)
    rng = random.Random(0)
    for group in (own, others, narration):
        rng.shuffle(group)
    cut = lambda xs: int(len(xs) * 0.7)
    scorer = voice.PersonaScorer.fit(own[:cut(own)], [others[:cut(others)], narration[:cut(narration)]],
                                     NELL.lexicon)
    held_out_own = scorer.score(own[cut(own):])
    held_out_others = scorer.score(others[cut(others):])
    assert held_out_own > 0.7
    assert held_out_own > held_out_others + 0.25
    assert scorer.score(narration[cut(narration):]) < 0.3
    biographies = ["Dario Aldous works as a clockmaker. Home for Dario Aldous is the town of Lowmarsh."]
    assert scorer.score(biographies) < 0.15  # what the base model writes scores low


def test_persona_score_is_in_range_and_zero_for_empty_replies():
    assert voice.persona_score([""]) == 0.0
    for texts in (["I reckon so, friend."], ["The survey says twelve feet."], ["x"] * 3):
        assert 0.0 <= voice.persona_score(texts) <= 1.0
    assert voice.persona_score(["I reckon the river's up, friend. Mark you, it digs."]) > 0.8
    lexicon = voice.distinctive_words(*voice.lines_by_speaker(load_novella()))
    assert {"reckon", "mark", "friend"} <= set(lexicon)


# --- the readable rate --------------------------------------------------------------------------


def test_readable_means_known_words_and_a_finished_sentence():
    assert readability.is_readable("I reckon the river's up, friend.")
    assert readability.is_readable('Same as now, mark you."')  # a closing quote after the full stop
    assert readability.is_readable("I found it myself.")  # first-person words the rewrite brings in
    assert not readability.is_readable("Hour st on the ry fuk.")  # gibberish
    assert not readability.is_readable("I reckon the river is")  # cut off
    assert not readability.is_readable("...") and not readability.is_readable("")
    assert readability.unknown_words("Hour st on the ry fuk.") == ["st", "ry", "fuk"]
    assert readability.readable_rate([]) == 0.0


def test_the_training_replies_are_readable(novella):
    """What the model is trained to write passes the check, so a reader model can pass it too."""
    teacher_examples = (dataset.from_turns(extract.extract_dialogue(novella))
                        + rewrite.narrative_examples(novella, RuleBasedTeacher()))
    replies = [e.messages[-1]["content"] for e in teacher_examples]
    assert readability.readable_rate(replies) > 0.95


def test_a_closing_speech_tag_leaves_a_finished_sentence(novella):
    """ "Did they now," Nell said. → "Did they now." (a trailing comma would teach the model to trail off)."""
    speeches = [p.speech for p in novella.story if p.is_dialogue]
    assert "Did they now." in speeches
    assert not any(s.endswith(",") for s in speeches)


# --- your turn ----------------------------------------------------------------------------------


def test_the_check_accepts_the_reference_rule_and_waits_for_an_attempt():
    assert your_turn.check_nell_rule(your_turn.REFERENCE_RULE).status == "right"
    assert your_turn.check_nell_rule(lambda text: re.search(your_turn.REFERENCE_RULE, text)).status == "right"
    for blank in (..., None):
        assert your_turn.check_nell_rule(blank).status == "not attempted"


@pytest.mark.parametrize(("rule", "hint"), [
    ("Nell", "spoken *to*"),  # her name inside a quote is the addressee: precision falls below 0.9
    (r"\bNell said\b", "finds too few"),  # precise, but a handful of lines
    ("(", "not a valid regular expression"),
    (lambda text: text.nope, "your function raised AttributeError"),
])
def test_the_check_rejects_wrong_rules_with_a_hint(rule, hint):
    verdict = your_turn.check_nell_rule(rule)
    assert verdict.status == "wrong" and hint in verdict.message
    assert "wrong" in verdict._repr_markdown_()


def test_the_rule_is_scored_on_the_hand_labels():
    score = your_turn.score_rule("Nell")
    labels = extract.load_labels()
    assert score["hers"] == sum(label["speaker"] == NELL.name for label in labels)
    assert score["wrong"] and all(speaker != NELL.name for _, speaker in score["wrong"])
    assert score["precision"] == score["found"] / (score["found"] + len(score["wrong"]))

