"""Live sync: a contact saved in Business Central reaches Outlook within seconds.

- `changes`: follows every write of a contact (save, delete, bulk writes, a company's
  changes reaching its people) and, once its transaction commits, asks for a run of each
  setup it touches.
- `scope`: which setups a change touches.
- `requests`: one pending request per setup, debounced; `live_runs_dispatch` queues the
  runs that are due (called every few seconds by the job queue's ticker).
"""

from exchange_sync.live.requests import live_runs_dispatch

__all__ = ["live_runs_dispatch"]
