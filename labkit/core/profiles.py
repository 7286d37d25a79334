"""The registry of model profiles: one name switches every lesson between the tiny model and real ones.

A profile names a base model and owns everything that must change with it: the training
hyper-parameters of every recipe, the LoRA shape, quantization, the size of the invented world the
lessons use, and whether the model first goes to "school" (a short continued pre-training on the
course's corpus: a real base model has never met the invented people).

>>> get_profile("tiny").school, get_profile("smol").school
(False, True)
>>> get_profile("tiny").recipe("dpo")["beta"]
0.1
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from labkit.paths import TINY_DIR

TINY_PATH = TINY_DIR
SOURCES = ("local", "hub", "standin")

# The recipes a profile tunes. Each maps to the fields of one settings dataclass in labkit.methods
# (SFTSettings for "school", "sft", "full", "lora", "qlora" and "persona"; RewardSettings, RLSettings,
# DPOSettings, GRPOSettings for the others); what a profile leaves out keeps that class's default.
# "sft" is lesson 01's full run; "full" and "lora" are the short, equal-budget runs that compare
# full fine-tuning with LoRA (lesson 02) and measure forgetting.
RECIPES = ("school", "sft", "full", "lora", "qlora", "reward", "rloo", "dpo", "grpo", "persona")

# The tiny model's recipes: the numbers the lessons were measured with on 2 CPU cores.
TINY_RECIPES = {
    "sft": dict(max_steps=240, learning_rate=3.75e-4, batch_size=32, max_length=128),
    "full": dict(max_steps=60, learning_rate=1e-3, batch_size=32, max_length=128),
    "lora": dict(max_steps=60, learning_rate=2e-3, batch_size=32, max_length=128),
    "qlora": dict(max_steps=70, learning_rate=2e-3, batch_size=16, gradient_accumulation_steps=2, max_length=128),
    "reward": dict(max_steps=30, learning_rate=1e-3, batch_size=32, max_length=128),
    "rloo": dict(max_steps=30, learning_rate=3e-5, beta=0.05, batch_size=8, num_generations=8,
                 max_completion_length=24),
    "dpo": dict(max_steps=40, learning_rate=5e-3, beta=0.1, batch_size=16, max_length=128),
    "grpo": dict(max_steps=30, learning_rate=2e-4, beta=0.04, batch_size=4, num_generations=8,
                 max_completion_length=48),
    "persona": dict(max_steps=120, learning_rate=5e-3, batch_size=8, max_length=256),
}


def _hub_recipes(lr: float, batch: int, accumulation: int, max_length: int, school_steps: int) -> dict:
    """Recipes for a real base model on a GPU: rates two orders of magnitude below the tiny model's."""
    common = dict(batch_size=batch, gradient_accumulation_steps=accumulation, max_length=max_length)
    return {
        "school": dict(common, max_steps=school_steps, learning_rate=lr * 2, lr_scheduler_type="cosine",
                       completion_only_loss=False),
        "sft": dict(common, max_steps=300, learning_rate=lr),
        "full": dict(common, max_steps=100, learning_rate=lr),
        "lora": dict(common, max_steps=100, learning_rate=lr * 10),
        "qlora": dict(common, max_steps=150, learning_rate=lr * 10),
        "reward": dict(common, max_steps=60, learning_rate=lr * 5),
        "rloo": dict(max_steps=60, learning_rate=lr / 10, beta=0.05, batch_size=8, num_generations=8,
                     max_completion_length=48),
        "dpo": dict(common, max_steps=60, learning_rate=lr * 5, beta=0.1),
        "grpo": dict(max_steps=100, learning_rate=lr / 10, beta=0.04, batch_size=8, num_generations=8,
                     max_completion_length=64),
        "persona": dict(common, max_steps=120, learning_rate=lr * 10),
    }


@dataclass(frozen=True)
class Profile:
    """A base model, where it comes from, and the training settings that suit it.

    ``source``: "local" ships with the course (tiny), "hub" is downloaded from the Hugging Face Hub,
    "standin" is a few-million-parameter model of a hub model's architecture and tokenizer
    conventions, built offline into build/ (the tests' way through the hub code path).
    """

    name: str
    model_id: str  # a Hub id, a folder, or the stand-in's name
    hardware: str
    expected_time: str
    notes: str = ""
    source: str = "hub"
    school: bool = True  # continued pre-training on data/corpus before lesson 01 (lesson 00)
    world_people: int = 600  # how many of the invented people the lessons use (fewer: less to learn)
    quantization: str | None = None  # "4bit": every lesson loads the base in NF4
    recipes: dict = field(default_factory=dict)  # recipe -> settings overrides (see RECIPES)
    lora: dict = field(default_factory=lambda: dict(r=16, lora_alpha=32))  # LoraSettings fields

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"profile {self.name}: source must be one of {SOURCES}, not {self.source!r}")
        unknown = set(self.recipes) - set(RECIPES)
        if unknown:
            raise ValueError(f"profile {self.name}: unknown recipes {sorted(unknown)}; known: {', '.join(RECIPES)}")
        object.__setattr__(self, "recipes", MappingProxyType(dict(self.recipes)))

    @property
    def on_hub(self) -> bool:
        return self.source == "hub"

    def recipe(self, name: str) -> dict:
        """The settings overrides this profile gives recipe ``name`` (empty: the class defaults)."""
        if name not in RECIPES:
            raise KeyError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
        return dict(self.recipes.get(name, {}))


# Stand-ins train like the hub profiles they stand for, but sized for a CPU test run.
STANDIN_RECIPES = {name: dict(values, max_steps=min(values.get("max_steps", 60), 40), batch_size=8,
                              gradient_accumulation_steps=1, max_length=128, learning_rate=1e-3)
                   for name, values in _hub_recipes(1e-4, 8, 1, 128, school_steps=40).items()}
STANDIN_RECIPES["rloo"] |= dict(max_completion_length=24, num_generations=4, batch_size=4, learning_rate=1e-4)
STANDIN_RECIPES["grpo"] |= dict(max_completion_length=32, num_generations=4, batch_size=4, learning_rate=1e-4)

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("tiny", str(TINY_PATH), "any CPU, offline", "about 10 minutes for the whole course on 2 cores",
                notes="the project's own 3.4M-parameter Llama, pre-trained on data/corpus", source="local",
                school=False, recipes=TINY_RECIPES),
        Profile("smol", "HuggingFaceTB/SmolLM2-135M", "a Colab T4 or any GPU", "minutes per lesson on a T4",
                notes="base model; school: 3.3M tokens × 6 × 135M ≈ 2.7 PFLOP, about 2 min on a T4", recipes=_hub_recipes(1e-4, 16, 2, 256, 400)),
        Profile("qwen-0.5b", "Qwen/Qwen2.5-0.5B", "a GPU with 8 GB or more", "about 5–15 minutes per lesson on a T4",
                notes="base model; school: 3.3M tokens × 6 × 494M ≈ 9.7 PFLOP, about 7 min on a T4", recipes=_hub_recipes(5e-5, 8, 4, 256, 400)),
        Profile("mistral-7b", "mistralai/Mistral-7B-v0.1", "a GPU with 16 GB or more, 4-bit",
                "30–60 minutes per lesson", notes="the course page's own example; every lesson in 4-bit NF4 "
                "with LoRA; a world of 120 people; school: 0.8M tokens × 4 × 7.2B ≈ 24 PFLOP, about 4 min on an A100", quantization="4bit", world_people=120,
                recipes=_hub_recipes(2e-5, 4, 4, 256, 200), lora=dict(r=16, lora_alpha=32)),
        Profile("standin-smol", "smol", "any CPU, offline", "about a minute per lesson",
                notes="tests: SmolLM2's architecture and tokenizer conventions, random weights", source="standin",
                world_people=60, recipes=STANDIN_RECIPES),
        Profile("standin-qwen", "qwen", "any CPU, offline", "about a minute per lesson",
                notes="tests: Qwen2.5's architecture and tokenizer conventions, random weights", source="standin",
                world_people=60, recipes=STANDIN_RECIPES),
        Profile("standin-mistral", "mistral", "any CPU, offline", "about a minute per lesson",
                notes="tests: Mistral-7B-v0.1's architecture and tokenizer conventions, random weights, 4-bit",
                source="standin", world_people=60, quantization="4bit", recipes=STANDIN_RECIPES),
    )
}


def get_profile(name: str) -> Profile:
    """A profile by name, or one inferred for any Hub id or local model folder.

    >>> get_profile("tiny").model_id.endswith("tiny")
    True
    """
    if name in PROFILES:
        return PROFILES[name]
    if Path(name).is_dir() or "/" in name:
        return infer_profile(name)
    raise KeyError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}, "
                   "or give a Hub id (owner/model) or a model folder")


def infer_profile(name_or_path: str) -> Profile:
    """A profile for any Hub id or model folder: the recipes of the named profile of its size, its own model."""
    from labkit.core.model_size import estimate_parameters, read_config, size_class

    parameters = estimate_parameters(read_config(name_or_path))
    like = PROFILES[size_class(parameters)]
    local = Path(name_or_path).is_dir()
    return replace(like, name=name_or_path, model_id=str(Path(name_or_path).resolve()) if local else name_or_path,
                   source="hub", notes=f"inferred: about {parameters / 1e6:,.0f}M parameters, trained like {like.name}")
