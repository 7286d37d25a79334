"""Teachers and the Mistral job against real HTTP servers on 127.0.0.1.

The first server is a small OpenAI-compatible ``/v1/chat/completions`` endpoint (http.server +
transformers generate on the tiny model); the second plays Mistral's fine-tuning API, and the
notebook's own Mistral cells run against it. Both count the requests they receive and can be told to
fail the first ones, so the cache and the retries of the one HTTP client (``labkit.core.http_client``)
are checked from the server's side, not by a mock.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pytest

from labkit.core.http_client import ApiError
from labkit.lessons import l06_persona
from labkit.lessons.l06_persona import (
    NELL,
    Example,
    LocalTransformersTeacher,
    MistralTeacher,
    OpenAICompatibleTeacher,
    RuleBasedTeacher,
    axolotl_config,
    export_mistral_jsonl,
    make_teacher,
    write_axolotl_config,
)
from labkit.lessons.registry import get_lesson
from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings

PASSAGE = "Nell pulled the ferry home one grip at a time. Her arms burned."
FAKE_KEY = "sk-labkit-fake-" + "7" * 28
# Generous: on a busy 2-core machine a timed-out request would be retried and spoil the counts.
TIMEOUT = 600


class ChatHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length))
        with server.lock:
            server.requests += 1
            server.authorization.append(self.headers.get("Authorization"))
            failure = server.fail_first.pop(0) if server.fail_first else None
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": f"no route {self.path}"})
        if failure is not None:
            return self._send(failure, {"error": {"message": "try again later"}}, {"Retry-After": "0"})
        if server.required_key and self.headers.get("Authorization") != f"Bearer {server.required_key}":
            return self._send(401, {"error": {"message": "invalid api key"}})
        text = server.generate(request["messages"], min(int(request.get("max_tokens", 24)), 24))
        self._send(200, {"id": f"chatcmpl-{server.requests}", "object": "chat.completion",
                         "model": request["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": text}}]})


class TinyChatServer(ThreadingHTTPServer):
    """``/v1/chat/completions`` for the tiny model, counting requests, optionally failing some."""

    daemon_threads = True

    def __init__(self, model, tokenizer):
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.model, self.tokenizer = model, tokenizer
        self.lock = threading.Lock()
        self.requests, self.authorization, self.fail_first, self.required_key = 0, [], [], None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def generate(self, messages, max_new_tokens: int) -> str:
        import torch

        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"]
        # The prompts are longer than the tiny model's context: keep the end, where the passage is.
        ids = ids[:, -(self.model.config.max_position_embeddings - max_new_tokens):]
        with self.lock, torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                      max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip() or "..."


def http_teacher(server, model: str = "tiny", **kwargs) -> OpenAICompatibleTeacher:
    return OpenAICompatibleTeacher(server.base_url, model, timeout=TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def tiny():
    from labkit.core.models import load_model, load_tokenizer

    return load_model("tiny"), load_tokenizer("tiny")


@pytest.fixture
def server(tiny):
    httpd = TinyChatServer(*tiny)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_openai_compatible_teacher_talks_to_a_real_server(server, tmp_path):
    teacher = http_teacher(server, cache_dir=tmp_path / "cache", max_tokens=24)
    text = teacher.rewrite_first_person(PASSAGE, NELL)
    assert isinstance(text, str) and text
    pairs = teacher.question_answers(PASSAGE, NELL, n=2)  # the tiny model writes no JSON: none parse
    assert isinstance(pairs, list)
    assert server.requests == 2 and teacher.calls == 2


def test_cache_makes_a_rerun_call_the_server_zero_times(server, tmp_path):
    first = http_teacher(server, cache_dir=tmp_path / "cache", max_tokens=24)
    passages = [PASSAGE, "She tied the ferry with a second line.", "Nell did not sleep."]
    replies = [first.rewrite_first_person(p, NELL) for p in passages]
    assert server.requests == 3
    rerun = http_teacher(server, cache_dir=tmp_path / "cache", max_tokens=24)
    assert [rerun.rewrite_first_person(p, NELL) for p in passages] == replies
    assert server.requests == 3  # counted by the server: nothing new arrived
    assert rerun.calls == 0 and rerun.cache_hits == 3
    # A different model name is a different key: that one does go to the server.
    http_teacher(server, "other", cache_dir=tmp_path / "cache", max_tokens=24).rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 4


def test_retries_recover_from_a_server_that_fails_the_first_calls(server, tmp_path):
    server.fail_first = [429, 500, 503]
    teacher = http_teacher(server, cache_dir=None, backoff=0.01, max_tokens=8)
    assert teacher.rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 4 and teacher.calls == 4


def test_retries_give_up_and_client_errors_are_not_retried(server, tmp_path):
    server.fail_first = [500, 500, 500]
    teacher = http_teacher(server, cache_dir=None, backoff=0.01, max_retries=2)
    with pytest.raises(ApiError, match="gave up after 3 attempts: HTTP 500"):
        teacher.rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 3
    server.required_key = FAKE_KEY  # and no key in the environment: 401, which is not retried
    with pytest.raises(ApiError, match=r"HTTP 401 .*check the API key variable LABKIT_NO_SUCH_KEY: it is not set"):
        http_teacher(server, api_key_env="LABKIT_NO_SUCH_KEY",
                     cache_dir=None, backoff=0.01).rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 4
    wrong_path = OpenAICompatibleTeacher(server.base_url + "/v2", "tiny", cache_dir=None, backoff=0.01)
    with pytest.raises(ApiError, match=r"HTTP 404 .*Check the base URL .* and the model name"):
        wrong_path.rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 5  # a 404 is not retried either


def test_unreachable_server_is_retried_then_reported():
    teacher = OpenAICompatibleTeacher("http://127.0.0.1:9/v1", "tiny", cache_dir=None, backoff=0.01,
                                      max_retries=2)  # port 9 (discard): nothing listens
    with pytest.raises(ApiError, match="gave up after 3 attempts: ConnectError .* is the server running"):
        teacher.rewrite_first_person(PASSAGE, NELL)
    assert teacher.calls == 3


def test_no_api_key_in_any_written_file(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_TEST_KEY", FAKE_KEY)
    server.required_key = FAKE_KEY
    teacher = http_teacher(server, api_key_env="LABKIT_TEST_KEY",
                                      cache_dir=tmp_path / "cache", max_tokens=16)
    reply = teacher.rewrite_first_person(PASSAGE, NELL)
    teacher.question_answers(PASSAGE, NELL, 2)
    assert server.authorization[-1] == f"Bearer {FAKE_KEY}"  # the key was used…
    examples = [Example.pair("What happened next?", reply, "narrative")] * 5
    train_path, val_path = export_mistral_jsonl(examples[:4], examples[4:], tmp_path / "export")
    write_axolotl_config(tmp_path / "export" / "axolotl.yaml",
                         axolotl_config(train_path, val_path, "data/tiny", SFTSettings(), LoraSettings()))
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 5
    for path in written:  # …and written nowhere
        assert FAKE_KEY not in path.read_text(errors="ignore"), path
    assert FAKE_KEY not in repr(teacher) and FAKE_KEY not in str(vars(teacher))


def test_local_transformers_teacher_generates_and_caches(tiny, tmp_path):
    model, tokenizer = tiny
    teacher = LocalTransformersTeacher(model, tokenizer, cache_dir=tmp_path, max_tokens=12)
    first = teacher.rewrite_first_person(PASSAGE, NELL)
    again = LocalTransformersTeacher(model, tokenizer, cache_dir=tmp_path, max_tokens=12)
    assert again.rewrite_first_person(PASSAGE, NELL) == first
    assert (teacher.calls, again.calls, again.cache_hits) == (1, 0, 1)


def test_mistral_teacher_needs_its_key_and_uses_the_same_client(server, tmp_path, monkeypatch):
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(ApiError, match="MISTRAL_API_KEY is not set: set it in the shell"):
        MistralTeacher(cache_dir=tmp_path).rewrite_first_person(PASSAGE, NELL)
    assert server.requests == 0
    # Mistral's chat endpoint speaks the OpenAI format: the teacher is the same client, with its key.
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_KEY)
    server.required_key = FAKE_KEY
    teacher = MistralTeacher("tiny", base_url=server.base_url, cache_dir=None, max_tokens=8)
    assert teacher.rewrite_first_person(PASSAGE, NELL)
    assert server.authorization == [f"Bearer {FAKE_KEY}"] and teacher.calls == 1
    assert FAKE_KEY not in repr(teacher) and FAKE_KEY not in str(vars(teacher))


def test_make_teacher_offline_and_its_errors():
    assert make_teacher("rules").rewrite_first_person(PASSAGE, NELL).startswith("I pulled the ferry home")
    assert isinstance(make_teacher("rules"), RuleBasedTeacher)
    with pytest.raises(ValueError, match="teacher_model"):
        make_teacher("openai")
    with pytest.raises(ValueError, match="unknown teacher"):
        make_teacher("oracle")


class MistralHandler(BaseHTTPRequestHandler):
    """The REST calls of Mistral's fine-tuning flow, and its chat endpoint, to check the client's side."""

    def log_message(self, *args):
        pass

    def _reply(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.fail_first:  # a busy API: the client must try again, sending the file again
            self.send_response(self.server.fail_first.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/v1/files":
            self.server.uploads.append(body)
            self._reply({"id": f"file-{len(self.server.seen)}", "purpose": "fine-tune"})
        elif self.path == "/v1/chat/completions":
            self.server.chat_request = json.loads(body)
            self._reply({"choices": [{"message": {"role": "assistant", "content": "Same as now, friend."}}]})
        else:
            self.server.job_request = json.loads(body)
            self._reply({"id": "job-1", "status": "QUEUED"})

    def do_GET(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        status = self.server.statuses.pop(0)
        self._reply({"id": "job-1", "status": status,
                     "fine_tuned_model": "ft:ministral-8b-latest:nell:1" if status == "SUCCESS" else None})


def run_mistral_cells(namespace: dict) -> int:
    """Run the notebook's Mistral job as the learner reads it (the code cells tagged ``mistral-job``) in
    ``namespace``; returns how many cells ran."""
    notebook = nbformat.read(get_lesson("06").notebook, as_version=4)
    cells = [c.source for c in notebook.cells if "mistral-job" in c.metadata.get("tags", [])]
    for source in cells:
        exec(compile(source, "06_persona.ipynb", "exec"), namespace)  # noqa: S102 (the notebook's own cells)
    return len(cells)


def test_the_notebooks_mistral_cells_upload_create_poll_and_use_the_model(tmp_path, monkeypatch, capsys):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), MistralHandler)
    httpd.seen, httpd.statuses, httpd.uploads, httpd.fail_first = [], ["RUNNING", "SUCCESS"], [], [503]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_KEY)
    monkeypatch.setattr(l06_persona, "MISTRAL_API_URL", f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the poll's 30 s wait
    try:
        train_path, val_path = export_mistral_jsonl([Example.pair("q", "a", "dialogue")] * 3,
                                                    [Example.pair("q", "a", "dialogue")], tmp_path)
        namespace = {"lesson": l06_persona, "train_path": train_path, "validation_path": val_path,
                     "settings": SFTSettings(max_steps=40)}
        assert run_mistral_cells(namespace) == 5  # client, upload, create, poll, use: each step in sight
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [(m, p) for m, p, _ in httpd.seen] == [
        ("POST", "/v1/files"), ("POST", "/v1/files"), ("POST", "/v1/files"), ("POST", "/v1/fine_tuning/jobs"),
        ("GET", "/v1/fine_tuning/jobs/job-1"), ("GET", "/v1/fine_tuning/jobs/job-1"),
        ("POST", "/v1/chat/completions")]
    assert all(auth == f"Bearer {FAKE_KEY}" for _, _, auth in httpd.seen)
    job = httpd.job_request
    assert job["model"] == l06_persona.MISTRAL_BASE_MODEL == "ministral-8b-latest"
    assert job["hyperparameters"] == {"training_steps": 40, "learning_rate": l06_persona.MISTRAL_LEARNING_RATE}
    assert job["training_files"][0]["file_id"] == "file-2" and job["validation_files"] == ["file-3"]
    assert train_path.read_bytes() in httpd.uploads[0]  # the retried upload sent the whole file
    assert httpd.chat_request["model"] == "ft:ministral-8b-latest:nell:1"
    out = capsys.readouterr().out
    assert "Same as now, friend." in out and FAKE_KEY not in out
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or FAKE_KEY not in path.read_text(errors="ignore")


def test_without_a_key_the_mistral_cells_say_so_and_send_nothing(monkeypatch, capsys):
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    namespace = {"lesson": l06_persona}
    run_mistral_cells(namespace)
    assert "MISTRAL_API_KEY is not set" in capsys.readouterr().out
    assert namespace["mistral"].requests == 0
