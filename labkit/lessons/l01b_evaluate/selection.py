"""Validation vs test, measured: choosing a setting on the set you report on flatters the report.

The candidates are ways of sampling replies from the same SFT model (temperatures). Each answers
the same three sets of questions: ``validation`` (to choose on), ``test`` (to report on) and ``fresh``
(questions held back from both, standing in for the users who come after you ship). Choosing on
``test`` picks whichever candidate was luckiest there, so its test figure overstates what ``fresh``
shows; choosing on ``validation`` leaves ``test`` an honest estimate.

>>> import numpy as np
>>> correct = np.array([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]])  # two candidates, six questions
>>> optimism(correct, n_choose=2, n_report=2, repeats=200, seed=0)["chosen on the report set"] > 0
True
"""

from __future__ import annotations

DEFAULT_TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.2)  # close candidates, as a sweep compares


def candidate_correctness(model, tokenizer, questions: list[dict], temperatures=DEFAULT_TEMPERATURES,
                          seed: int = 0, max_new_tokens: int = 32, batch_size: int = 128):
    """A (candidates × questions) array of 0/1: did sampling at each temperature answer each question right?"""
    import numpy as np
    import torch

    from labkit.core.evaluate import generate_replies, is_correct

    prompts = [question["messages"][:-1] for question in questions]
    rows = []
    for i, temperature in enumerate(temperatures):
        torch.manual_seed(seed + i)
        replies, finished = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size, do_sample=True,
                                             temperature=temperature, return_finished=True)
        rows.append([is_correct(reply, question["expected"]) and done
                     for reply, done, question in zip(replies, finished, questions)])
    return np.array(rows, dtype=float)


def choose_and_report(correct, sets: dict[str, slice], temperatures=DEFAULT_TEMPERATURES):
    """Each candidate's accuracy on each set, and what each way of choosing would report.

    Returns (table, outcomes): ``table`` a DataFrame (one row per temperature, one column per set);
    ``outcomes`` for "chosen on validation" and "chosen on test": the temperature chosen, the test
    figure reported, and the same candidate's figure on fresh questions.
    """
    import pandas as pd

    table = pd.DataFrame({name: correct[:, part].mean(axis=1) for name, part in sets.items()},
                         index=pd.Index(temperatures, name="temperature"))
    outcomes = {}
    for chosen_on in ("validation", "test"):
        best = table[chosen_on].idxmax()
        outcomes[f"chosen on {chosen_on}"] = {"temperature": best, "reported (test)": table.loc[best, "test"],
                                              "fresh": table.loc[best, "fresh"]}
    return table, pd.DataFrame(outcomes).T


def optimism(correct, n_choose: int, n_report: int, repeats: int = 2000, seed: int = 0) -> dict[str, float]:
    """How much the reported figure overstates the fresh one, on average over random splits of the questions.

    Each repeat shuffles the questions into a choosing set, a reporting set and the fresh rest, then
    picks the best candidate either on the choosing set (honest) or on the reporting set (peeking).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    gaps = {"chosen on a separate set": [], "chosen on the report set": []}
    for _ in range(repeats):
        order = rng.permutation(correct.shape[1])
        choose, report = order[:n_choose], order[n_choose:n_choose + n_report]
        fresh = order[n_choose + n_report:]
        reported = correct[:, report].mean(axis=1)
        for name, picked in (("chosen on a separate set", correct[:, choose].mean(axis=1).argmax()),
                             ("chosen on the report set", reported.argmax())):
            gaps[name].append(reported[picked] - correct[picked, fresh].mean())
    return {name: float(np.mean(values)) for name, values in gaps.items()}
