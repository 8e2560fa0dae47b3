"""A django-q2 worker takes SIGUSR1 (from its `qcluster`) and SIGTERM (sent to the whole
process group by systemd, or to the worker by django-q2 on a timeout) as the request to
stop its sync after the current chunk, whatever mask it was forked with."""

from __future__ import annotations

import os
import signal

import pytest

from exchange_sync.sync.shutdown import shutdown_requested, shutdown_reset
from jobqueue.apps import _worker_started


@pytest.fixture
def worker_signals():
    """The handlers and mask of this process as they were, put back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGUSR1, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    for signum in saved:  # a worker that ignored the signal must fail the test, not end it
        signal.signal(signum, lambda signum, frame: None)
    shutdown_reset()
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for signum, handler in saved.items():
        signal.signal(signum, handler)
    shutdown_reset()


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGTERM])
def test_a_worker_forked_with_sigterm_blocked_takes_the_stop_signal_as_a_stop_request(worker_signals, signum):
    # As the qcluster command forks its cluster.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    _worker_started(sender="django_q", proc_name="Process-test")
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    os.kill(os.getpid(), signum)
    signal.pthread_sigmask(signal.SIG_BLOCK, set())  # a call into C: the handler has run

    assert shutdown_requested()
