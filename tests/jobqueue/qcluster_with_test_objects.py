"""Start a real `manage.py qcluster` with the test-only objects registered, on its own
queue (JOBQUEUE_TEST_QUEUE) so no other cluster on the same Redis takes its tasks.

Used by test_qcluster_runs_entry_exactly_once.py and test_qcluster_ticker.py. django-q2's Q_CLUSTER_NAME variable
cannot be used for the queue name: django-q2 1.11 then requires ALT_CLUSTERS.

With JOBQUEUE_TEST_ALIGNED_TICKS set, the ticker's tick waits for the next whole second
of the clock first, so clusters started this way tick at the same moments: their
dispatches race.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from django.conf import settings  # noqa: E402
from django.core.management import execute_from_command_line  # noqa: E402

from jobqueue import objects  # noqa: E402
from tests.jobqueue.objects_for_tests import TEST_OBJECTS  # noqa: E402

if __name__ == "__main__":
    # Before django_q reads Q_CLUSTER (once, at import).
    settings.Q_CLUSTER["cluster_name"] = os.environ["JOBQUEUE_TEST_QUEUE"]
    objects.OBJECTS.update(TEST_OBJECTS)  # workers are forked, so they inherit it
    if os.environ.get("JOBQUEUE_TEST_ALIGNED_TICKS"):
        import django

        django.setup()
        from jobqueue import ticker

        tick = ticker.tick

        def aligned_tick(now=None):
            time.sleep(1 - time.time() % 1)
            return tick()

        ticker.tick = aligned_tick
    execute_from_command_line([str(ROOT / "manage.py"), "qcluster"])
