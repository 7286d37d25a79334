"""``python -m labkit.data``: regenerate the offline instruction set (fixed seed)."""

from labkit.data.instructions import INSTRUCTIONS_PATH, make_instruction_set, write_jsonl

print(f"wrote {write_jsonl(make_instruction_set(), INSTRUCTIONS_PATH)}")
