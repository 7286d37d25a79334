"""Chat with a model through its chat template: a settable system prompt, the history kept,
and only the newly generated tokens decoded as the reply.

>>> from labkit.core.models import load_model, load_tokenizer
>>> chat = Chat(load_model("tiny"), load_tokenizer("tiny"), system_prompt="You answer in one sentence.")
>>> reply = chat.send("Where does Alma Ashby live?")  # the base model: it cannot answer well yet
>>> reply = chat.send("And what is her pet?")
>>> [turn["role"] for turn in chat.messages()]  # the first turn is still in the prompt
['system', 'user', 'assistant', 'user', 'assistant']
"""

from __future__ import annotations

from labkit.core.chat_template import END, ensure_chat_template

QUIT_WORDS = ("", "quit", "exit", "bye")


class Chat:
    """One conversation: ``send`` a user turn, get the assistant's reply; the history grows."""

    def __init__(self, model, tokenizer, system_prompt: str | None = None, max_new_tokens: int = 48,
                 do_sample: bool = False, temperature: float = 0.7):
        self.model, self.tokenizer = model, ensure_chat_template(tokenizer)
        self.system_prompt = system_prompt
        self.max_new_tokens, self.do_sample, self.temperature = max_new_tokens, do_sample, temperature
        self.history: list[dict] = []
        self.last_prompt = ""  # the exact text the model saw on the last turn, for teaching

    def messages(self) -> list[dict]:
        """The conversation as the template receives it: system prompt (if set), then the history."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + self.history

    def reset(self) -> None:
        """Forget the history (the system prompt stays)."""
        self.history = []

    def send(self, text: str) -> str:
        """Add a user turn, generate the assistant's turn, keep both in the history, return the reply."""
        import torch

        if not text.strip():
            raise ValueError("empty message: type something to send")
        self.history.append({"role": "user", "content": text})
        self.last_prompt = self.tokenizer.apply_chat_template(self.messages(), tokenize=False,
                                                              add_generation_prompt=True)
        inputs = self.tokenizer(self.last_prompt, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.model.device)
        # A tokenizer where END is plain text (a borrowed template) needs a stop string to end the turn.
        end_is_special = END in self.tokenizer.all_special_tokens
        stop = {} if end_is_special else {"stop_strings": [END], "tokenizer": self.tokenizer}
        self.model.eval()
        with torch.no_grad():
            output = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=self.do_sample,
                temperature=self.temperature if self.do_sample else None, top_p=None, top_k=None,
                pad_token_id=self.tokenizer.pad_token_id, **stop)
        # generate returns prompt + continuation; the reply is only what comes after the prompt.
        new_tokens = output[0, inputs["input_ids"].shape[1]:]
        reply = self.tokenizer.decode(new_tokens, skip_special_tokens=True).split(END)[0].strip()
        self.history.append({"role": "assistant", "content": reply})
        return reply


def chat_loop(chat: Chat, read=input, write=print) -> list[dict]:
    """Type to the model until an empty line or "quit"; returns the history.

    ``read`` and ``write`` default to the keyboard and the screen; pass others to script a chat.
    """
    while True:
        text = read("you: ")
        if text.strip().lower() in QUIT_WORDS:
            return chat.history
        write(f"model: {chat.send(text)}")
