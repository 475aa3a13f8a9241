"""The worker's loops: apps register them at start-up, since core cannot import the apps above it."""

from __future__ import annotations

from tandem.capture.intake.processing import drain_loop
from tandem.core.background import background_loops
from tandem.core.outbox import outbox_loop


def test_the_capture_drain_is_registered_for_the_worker():
    # given the apps loaded
    # when the worker asks which loops to run
    loops = background_loops()
    # then core's outbox hand-over and the capture journal's drain are among them, under their thread names
    # (apps register theirs as deferred functions, so that start-up does not import their services)
    named = {name: (loop.__module__, loop.__name__) for name, loop in loops.items()}
    assert named == {
        "task-outbox": (outbox_loop.__module__, outbox_loop.__name__),
        "capture-drain": (drain_loop.__module__, drain_loop.__name__),
        "webhooks-deliveries": ("tandem.webhooks.services", "deliveries_loop"),
    }
