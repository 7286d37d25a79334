"""tiny-reader (labkit.methods.reading): the widened vocabulary, the reading stage, and the committed model
that lesson 06 starts from on tiny."""

import json

import pytest
import torch

from labkit.core.models import load_model, load_tokenizer
from labkit.lessons.l06_persona import finetune
from labkit.methods import reading
from labkit.paths import TINY_DIR, TINY_READER_DIR


@pytest.fixture(scope="module")
def novella():
    return reading.novella_text()


@pytest.fixture(scope="module")
def widened(novella):
    """tiny's tokenizer, widened as the recipe does it, and the new ids' pieces."""
    tiny = load_tokenizer("tiny")
    forms = reading.word_forms(novella, reading.corpus_documents()["train"], min_corpus_count=5)
    wide, pieces = reading.widen_tokenizer(tiny, forms)
    return tiny, wide, pieces, forms


def test_every_word_of_the_novella_becomes_one_token_and_the_text_survives(widened, novella):
    tiny, wide, pieces, _ = widened
    assert len(pieces) > 1000
    for form in reading.WORD_FORM.findall(novella):
        assert len(wide(form, add_special_tokens=False)["input_ids"]) == 1, form
    ids = wide(novella, add_special_tokens=False)["input_ids"]
    assert wide.decode(ids) == novella
    assert len(ids) < 0.6 * len(tiny(novella)["input_ids"])  # about half the tokens: 2.8 per word -> 1.4


def test_words_outside_the_vocabulary_are_still_split_into_the_old_pieces(widened):
    tiny, wide, _, forms = widened
    word = " Zarquon"
    assert word not in forms
    assert wide.tokenize(word) == tiny.tokenize(word)


def test_a_new_row_starts_as_the_mean_of_the_pieces_it_replaces(widened):
    _, _, pieces, _ = widened
    model = load_model("tiny")
    old = model.get_input_embeddings().weight.detach().clone()
    reading.widen_model(model, pieces)
    table = model.get_input_embeddings().weight
    new_id, ids = next(iter(pieces.items()))
    assert table.shape[0] == max(pieces) + 1
    assert torch.allclose(table[new_id], old[ids].mean(0))
    assert torch.equal(table[: old.shape[0]], old)  # the old rows are untouched
    assert model.get_output_embeddings().weight.data_ptr() == table.data_ptr()  # still tied


def test_reading_lowers_the_novellas_loss(widened, novella):
    _, wide, pieces, _ = widened
    from labkit.methods.pretrain import pack

    model = load_model("tiny")
    reading.widen_model(model, pieces)
    documents = reading.corpus_documents()
    world, _ = pack(documents["train"][:200], wide, 64)
    world_val, _ = pack(documents["validation"][:50], wide, 64)
    ids = torch.tensor(wide(novella[:4000])["input_ids"])
    config = reading.ReadingConfig(steps=4, batch_size=4, warmup_steps=1, context_length=64)
    summary = reading.read_novella(model, ids, world, world_val, config, log=lambda _: None)
    assert summary["after"]["novella_loss"] < summary["before"]["novella_loss"] - 1.0
    assert summary["steps"] == 4 and summary["novella_tokens_seen"] == 4 * 2 * 64


def test_the_committed_reader_has_read_the_novella_and_kept_its_biographies():
    log = json.loads((TINY_READER_DIR / "training_log.json").read_text())
    assert log["after"]["novella_loss"] < 1.0 and log["before"]["novella_loss"] > 10.0  # measured: 12.5 -> 0.53
    assert log["after"]["world_val_loss"] < log["before"]["world_val_loss"] + 0.1
    tokenizer = load_tokenizer(TINY_READER_DIR)
    assert tokenizer.tokenize(" reckon the river") == ["Ġreckon", "Ġthe", "Ġriver"]
    assert len(tokenizer) == log["vocabulary"]["after"] > log["vocabulary"]["before"] == len(load_tokenizer("tiny"))
    model = load_model(TINY_READER_DIR, tokenizer=tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert (TINY_READER_DIR / "README.md").read_text().startswith("# tiny-reader")


def test_lesson_06_starts_from_the_reader_on_tiny_only():
    _, tokenizer, folder = finetune.starting_model("tiny")
    assert folder == TINY_READER_DIR != TINY_DIR
    assert len(finetune.starting_tokenizer("tiny")) == len(tokenizer)
    assert finetune.starting_folder("standin-smol") is None  # a stand-in plays a real model, which has read novels


def test_a_missing_reader_says_how_to_rebuild_it(tmp_path, monkeypatch):
    monkeypatch.setattr(finetune, "TINY_READER_DIR", tmp_path / "tiny-reader")
    with pytest.raises(FileNotFoundError, match="python -m labkit.methods.reading"):
        finetune.starting_model("tiny")
