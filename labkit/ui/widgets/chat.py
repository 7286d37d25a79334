"""The chat box: talk to a fine-tuned model in the notebook, with a system prompt you can change.

>>> ChatBox(Chat(model, tokenizer))  # doctest: +SKIP

Every element carries a stable ``labkit-chat-*`` CSS class for the browser tests: the transcript
``.labkit-chat-transcript`` holds one ``.labkit-chat-turn`` per message, with
``.labkit-chat-user`` or ``.labkit-chat-assistant``.

Enter in the message box and a click on Send each send once: the box syncs its text as it is typed,
and Enter arrives as the text field's "submit" event. (Observing ``value`` with continuous_update
off, as ipywidgets suggests, also fires when the box loses focus, which a click on Send does first:
the question went twice.) ipykernel 7 may run two widgets' callbacks on different threads at once,
so a lock lets one question through at a time.
"""

from __future__ import annotations

import threading
from html import escape

import ipywidgets as widgets

from labkit.core.chat import Chat

# column-reverse keeps a scrolling box pinned to its bottom: the newest turn stays in view.
_CSS = """<style>
.labkit-chat .labkit-chat-transcript { max-height: 320px; overflow-y: auto;
                                       display: flex; flex-direction: column-reverse; align-items: stretch; }
.labkit-chat .labkit-chat-turn { margin: 4px 0; padding: 4px 8px; border-radius: 6px; }
.labkit-chat .labkit-chat-user { background: #e3f2fd; }
.labkit-chat .labkit-chat-assistant { background: #f1f8e9; }
.labkit-chat .labkit-chat-error { color: #c62828; }
</style>"""


class ChatBox(widgets.VBox):
    """A transcript, a message box with Send, a system prompt field, and Reset."""

    def __init__(self, chat: Chat, placeholder: str = "Ask about someone, e.g. Where does Alma Ashby live?"):
        super().__init__(layout=widgets.Layout(max_width="780px"))
        self.add_class("labkit-chat")
        self.chat = chat
        self.system_prompt = widgets.Text(value=chat.system_prompt or "", description="system",
                                          placeholder="optional: how the assistant should behave",
                                          layout=widgets.Layout(width="100%"))
        self.transcript = widgets.HTML()
        self.message = widgets.Text(placeholder=placeholder, layout=widgets.Layout(width="100%"))
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self.reset_button = widgets.Button(description="Reset")
        self.status = widgets.HTML()
        for widget, name in ((self.system_prompt, "system"), (self.transcript, "transcript"),
                             (self.message, "input"), (self.send_button, "send"),
                             (self.reset_button, "reset"), (self.status, "status")):
            widget.add_class(f"labkit-chat-{name}")
        self._sending = threading.Lock()
        self.send_button.on_click(lambda _: self.send())
        self.reset_button.on_click(lambda _: self.reset())
        self.message.on_msg(self._on_text_event)
        self.children = [widgets.HTML(_CSS), self.system_prompt, self.transcript,
                         widgets.HBox([self.message, self.send_button, self.reset_button]), self.status]
        self.render()

    def _on_text_event(self, _widget, content, _buffers) -> None:
        if content.get("event") == "submit":  # Enter pressed in the message box
            self.send()

    def send(self, text: str | None = None) -> str | None:
        """Send ``text`` (or what is typed in the box); returns the reply, or None if there was none."""
        with self._sending:
            text = self.message.value if text is None else text
            if not text.strip():
                self.status.value = '<span class="labkit-chat-error">Type a message first.</span>'
                return None
            self.message.value = ""  # at once, so the learner can type the next question meanwhile
            self.chat.system_prompt = self.system_prompt.value.strip() or None
            self.status.value = "thinking…"
            try:
                reply = self.chat.send(text)
            except Exception as error:  # a button callback's exception would vanish into the log
                self.message.value = text  # back in the box, to send again
                self.status.value = f'<span class="labkit-chat-error">{escape(str(error))}</span>'
                raise
            self.status.value = ""
            self.render()
            return reply

    def reset(self) -> None:
        """Start a new conversation."""
        self.chat.reset()
        self.status.value = ""
        self.render()

    def render(self) -> None:
        turns = [f'<div class="labkit-chat-turn labkit-chat-{m["role"]}"><b>{m["role"]}</b>: '
                 f'{escape(m["content"])}</div>' for m in self.chat.history]
        self.transcript.value = "".join(turns) or '<div class="labkit-chat-empty">No messages yet.</div>'
