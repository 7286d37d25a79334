"""The registry of model profiles: one name switches every lesson between the tiny model and real ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.paths import TINY_DIR

TINY_PATH = TINY_DIR


@dataclass(frozen=True)
class TrainingDefaults:
    """Training settings that suit a profile; lessons start from these and override per lesson."""

    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    lora_r: int = 16
    lora_alpha: int = 32
    lora_target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    eval_examples: int = 200


@dataclass(frozen=True)
class Profile:
    """A model and the hardware it needs. `model_id` is a Hub id, or a local folder for `tiny`."""

    name: str
    model_id: str
    hardware: str
    expected_time: str
    notes: str = ""
    on_hub: bool = True
    default_quantization: str | None = None
    defaults: TrainingDefaults = field(default_factory=TrainingDefaults)


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("tiny", str(TINY_PATH), "any CPU, offline", "about 10 minutes for the whole course",
                notes="the project's own 3.4M-parameter Llama, pre-trained on data/corpus",
                on_hub=False,
                defaults=TrainingDefaults(learning_rate=3e-4, batch_size=32, max_length=128,
                                          lora_r=16, lora_alpha=32, eval_examples=200)),
        Profile("smol", "HuggingFaceTB/SmolLM2-135M-Instruct", "Colab CPU or any GPU",
                "minutes per lesson on a T4", notes="needs the Hugging Face Hub",
                defaults=TrainingDefaults(learning_rate=1e-4, batch_size=16, max_length=512)),
        Profile("qwen-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "GPU (8 GB or more)",
                "about 5–15 minutes per lesson", notes="needs the Hugging Face Hub",
                defaults=TrainingDefaults(learning_rate=5e-5, batch_size=8, max_length=512)),
        Profile("mistral-7b", "mistralai/Mistral-7B-v0.1", "GPU with 16 GB or more, 4-bit",
                "30–60 minutes per lesson", notes="the seeds' own example; loaded in 4-bit NF4",
                default_quantization="4bit",
                defaults=TrainingDefaults(learning_rate=2e-4, batch_size=4,
                                          gradient_accumulation_steps=4, max_length=512)),
    )
}


def get_profile(name: str) -> Profile:
    """Look a profile up by name: ``get_profile("tiny").model_id`` is the local folder."""
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]
