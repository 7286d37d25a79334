"""A seeded train/validation split."""

from __future__ import annotations

STRATUM = "_stratum"  # a temporary class-label copy of the column to stratify by


def train_validation_split(dataset, validation_share: float = 0.15, seed: int = 0, stratify_by: str | None = None):
    """Split a `datasets.Dataset` into ``{"train", "validation"}``, holding out 10–20%.

    With ``stratify_by`` (a column name) each value of that column keeps its share in both parts,
    so a small group still shows up in validation.

    >>> from datasets import Dataset
    >>> parts = train_validation_split(Dataset.from_dict({"x": list(range(100))}))
    >>> len(parts["train"]), len(parts["validation"])
    (85, 15)
    >>> kinds = Dataset.from_dict({"kind": ["a"] * 80 + ["b"] * 20})
    >>> train_validation_split(kinds, stratify_by="kind")["validation"]["kind"].count("b")
    3
    """
    if not 0.10 <= validation_share <= 0.20:
        raise ValueError(f"validation_share {validation_share} is outside 0.10–0.20: hold out "
                         "enough to measure, and keep enough to learn from")
    if stratify_by is None:
        parts = dataset.train_test_split(test_size=validation_share, seed=seed, shuffle=True)
    else:
        from datasets import ClassLabel

        # datasets stratifies only by a ClassLabel column: add one for the split, and drop it afterwards.
        values = dataset[stratify_by]
        names = sorted(set(values))
        number = {name: i for i, name in enumerate(names)}
        labelled = dataset.add_column(STRATUM, [number[v] for v in values], feature=ClassLabel(names=names))
        parts = labelled.train_test_split(test_size=validation_share, seed=seed, shuffle=True,
                                          stratify_by_column=STRATUM).remove_columns(STRATUM)
    return {"train": parts["train"], "validation": parts["test"]}
