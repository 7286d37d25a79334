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

from abc import ABC, abstractmethod

from labkit.core.batching import generate_texts, render_chats
from labkit.core.chat_template import prepare_tokenizer

QUIT_WORDS = ("", "quit", "exit", "bye")


class Conversation(ABC):
    """A conversation's bookkeeping: the system prompt, the history, and one user turn at a time.

    Subclasses say how a reply is made (:meth:`reply_to`); :class:`Chat` asks a PyTorch model,
    ``labkit.methods.gguf_chat.GGUFChat`` a GGUF file.
    """

    def __init__(self, system_prompt: str | None = None, max_new_tokens: int = 48):
        self.system_prompt, self.max_new_tokens = system_prompt, max_new_tokens
        self.history: list[dict] = []

    def messages(self) -> list[dict]:
        """The conversation as the template receives it: system prompt (if set), then the history."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return system + self.history

    def reset(self) -> None:
        """Forget the history (the system prompt stays)."""
        self.history = []

    @abstractmethod
    def reply_to(self, messages: list[dict]) -> str:
        """The assistant's reply to the conversation ``messages`` (the system prompt and the history)."""

    def send(self, text: str) -> str:
        """Add a user turn, generate the assistant's turn, keep both in the history, return the reply."""
        if not text.strip():
            raise ValueError("empty message: type something to send")
        self.history.append({"role": "user", "content": text})
        reply = self.reply_to(self.messages()).strip()
        self.history.append({"role": "assistant", "content": reply})
        return reply


class Chat(Conversation):
    """One conversation: ``send`` a user turn, get the assistant's reply; the history grows.

    Greedy by default. With ``do_sample=True`` the reply is sampled at ``temperature`` from the
    smallest set of tokens whose probabilities add up to ``top_p`` (nucleus sampling): lower either
    for safer, more repetitive replies, raise them for more varied ones.
    """

    def __init__(self, model, tokenizer, system_prompt: str | None = None, max_new_tokens: int = 48,
                 do_sample: bool = False, temperature: float = 0.7, top_p: float = 0.9):
        super().__init__(system_prompt, max_new_tokens)
        self.model, self.tokenizer = model, prepare_tokenizer(tokenizer)
        self.do_sample, self.temperature, self.top_p = do_sample, temperature, top_p
        self.last_prompt = ""  # the exact text the model saw on the last turn, for teaching

    def reply_to(self, messages: list[dict]) -> str:
        """Only the newly generated tokens are decoded: ``generate`` returns the prompt followed by
        the continuation, and decoding all of it would repeat the conversation back."""
        self.last_prompt = render_chats(self.tokenizer, [messages], add_generation_prompt=True)[0]
        (reply,), _ = generate_texts(self.model, self.tokenizer, [self.last_prompt], self.max_new_tokens,
                                     do_sample=self.do_sample, temperature=self.temperature, top_p=self.top_p)
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
