"""The training process groups its events into few messages (each one wakes the window) without holding any
event back for long: a run's end goes at once, anything else within flush_s even when nothing follows it."""

from __future__ import annotations

import threading
import time
from typing import Any

from dlstudio.training.child import _EventBatcher


class _Collect:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.sent = threading.Event()

    def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.sent.set()

    def events(self) -> list[int]:
        return [e["n"] for m in self.messages for e in m["events"]]


def test_a_burst_of_events_is_one_message() -> None:
    out = _Collect()
    batcher = _EventBatcher(out, flush_s=60.0)  # type: ignore[arg-type]
    batcher.sent_at = time.perf_counter()  # as just after a message
    for n in range(50):  # 50 batches and an epoch's end, well within flush_s
        batcher.add({"n": n})
    assert out.messages == []
    batcher.close()
    assert len(out.messages) == 1 and out.events() == list(range(50))


def test_the_end_of_a_run_goes_at_once_with_what_was_held() -> None:
    out = _Collect()
    batcher = _EventBatcher(out, flush_s=60.0)  # type: ignore[arg-type]
    batcher.sent_at = time.perf_counter()
    batcher.add({"n": 1})
    batcher.add({"n": 2}, at_once=True)
    assert out.events() == [1, 2] and len(out.messages) == 1
    batcher.close()
    assert len(out.messages) == 1  # nothing left to send


def test_an_event_with_nothing_after_it_is_sent_within_flush_s() -> None:
    out = _Collect()
    batcher = _EventBatcher(out, flush_s=0.2)  # type: ignore[arg-type]
    batcher.sent_at = time.perf_counter()
    started = time.perf_counter()
    batcher.add({"n": 7})  # an epoch's end, then a first batch that takes long
    assert out.sent.wait(30.0), "the held event was never sent"
    waited = time.perf_counter() - started
    assert out.events() == [7] and waited >= 0.15  # held for flush_s, not sent with the add
    batcher.add({"n": 8})  # the timer thread still serves later events
    batcher.close()
    assert out.events() == [7, 8]


def test_events_due_go_with_the_next_one() -> None:
    out = _Collect()
    batcher = _EventBatcher(out, flush_s=0.0)  # type: ignore[arg-type]
    batcher.add({"n": 1})
    batcher.add({"n": 2})
    assert out.events() == [1, 2]
    batcher.close()
