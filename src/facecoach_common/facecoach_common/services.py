"""Calling a service whose reply Fast DDS may drop: an idempotent request is sent again until answered.

wait_for_service() and service_is_ready() say ready once the *client* has matched the service, but the
service's reply writer may not have matched the client's reply reader yet. Fast DDS then waits 100 ms
and drops the reply ("failed to send response (timeout): client will not receive response",
ros2/rmw_fastrtps#842, open on Humble, Jazzy and Rolling), and the caller waits for ever. A request sent
again once discovery has finished is answered. Only requests that may safely be served twice (listing,
reading or setting parameters) go through here; the sends are spaced out so that a slow answer (a model
loading) is not asked for over and over.
"""

import time
from typing import Any, Callable, Optional

# After how many seconds an unanswered request is sent again, and again; then no more.
RESEND_AFTER_S = (1.0, 3.0)
_POLL_S = 0.05


def call_idempotent(client: Any, request: Any, timeout: float, wait: Callable[[float], Any]) -> Optional[Any]:
    """The first answer to ``request`` through ``client`` within ``timeout`` seconds, or None.

    ``wait(seconds)`` lets the answer arrive: ``lambda s: rclpy.spin_once(node, timeout_sec=s)`` for a node
    spun here, ``time.sleep`` for one an executor spins in another thread.
    """
    deadline = time.monotonic() + timeout
    futures = []
    for resend_after in RESEND_AFTER_S + (float("inf"),):
        futures.append(client.call_async(request))
        until = min(deadline, time.monotonic() + resend_after)
        while True:
            for future in futures:
                if future.done():
                    return future.result()
            left = until - time.monotonic()
            if left <= 0:
                break
            wait(min(left, _POLL_S))
        if time.monotonic() >= deadline:
            break
    return None
