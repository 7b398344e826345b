"""call_idempotent: a request whose reply was dropped is sent again, spaced out, until the deadline."""

import time

import pytest
from rclpy.task import Future

from facecoach_common import services


class DroppingClient:
    """A service client whose first ``dropped`` replies never come; the others come ``delay_s`` after the send."""

    def __init__(self, dropped, delay_s=0.0):
        self.dropped, self.delay_s = dropped, delay_s
        self.sent = []  # (time sent, future)

    def call_async(self, request):
        future = Future()
        self.sent.append((time.monotonic(), future))
        return future

    def deliver(self, _seconds):
        """The `wait` callable: answers the requests whose time has come."""
        time.sleep(_seconds)
        for i, (t, future) in enumerate(self.sent):
            if i >= self.dropped and not future.done() and time.monotonic() - t >= self.delay_s:
                future.set_result(f"answer to send {i}")


@pytest.fixture
def fast_resends(monkeypatch):
    monkeypatch.setattr(services, "RESEND_AFTER_S", (0.1, 0.3))


def test_a_dropped_reply_is_asked_for_again(fast_resends):
    client = DroppingClient(dropped=1)
    assert services.call_idempotent(client, "req", 5.0, client.deliver) == "answer to send 1"
    assert len(client.sent) == 2
    assert client.sent[1][0] - client.sent[0][0] >= 0.1


def test_a_slow_answer_is_waited_for_not_asked_for_over_and_over(fast_resends):
    client = DroppingClient(dropped=0, delay_s=0.6)
    assert services.call_idempotent(client, "req", 5.0, client.deliver) == "answer to send 0"
    assert len(client.sent) == 3, "sent again after 0.1 s and 0.3 s more, then no more"


def test_no_answer_is_none_at_the_deadline(fast_resends):
    client = DroppingClient(dropped=99)
    t0 = time.monotonic()
    assert services.call_idempotent(client, "req", 0.8, client.deliver) is None
    assert 0.8 <= time.monotonic() - t0 < 1.5
    assert len(client.sent) == 3


def test_a_short_deadline_sends_once():
    client = DroppingClient(dropped=99)
    assert services.call_idempotent(client, "req", 0.2, client.deliver) is None
    assert len(client.sent) == 1
