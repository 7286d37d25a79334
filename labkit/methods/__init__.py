"""Training methods on TRL and peft: SFT, reward model, RLOO, DPO, LoRA and QLoRA, one settings base."""
