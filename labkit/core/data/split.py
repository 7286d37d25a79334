"""A seeded train/validation split."""

from __future__ import annotations


def train_validation_split(dataset, validation_share: float = 0.15, seed: int = 0):
    """Split a `datasets.Dataset` into ``{"train", "validation"}``, holding out 10–20%.

    >>> from datasets import Dataset
    >>> parts = train_validation_split(Dataset.from_dict({"x": list(range(100))}))
    >>> len(parts["train"]), len(parts["validation"])
    (85, 15)
    """
    if not 0.10 <= validation_share <= 0.20:
        raise ValueError(f"validation_share {validation_share} is outside 0.10–0.20: hold out "
                         "enough to measure, and keep enough to learn from")
    parts = dataset.train_test_split(test_size=validation_share, seed=seed, shuffle=True)
    return {"train": parts["train"], "validation": parts["test"]}
