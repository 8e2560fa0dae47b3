"""Live sync: a contact saved in Business Central reaches Outlook within seconds.

- `changes`: follows every write of a contact (save, delete, bulk writes, a company's
  changes reaching its people) and, once its transaction commits, asks for a run of each
  setup it touches.
- `scope`: which setups a change touches.
- `requests`: one pending request per setup, debounced; `live_runs_dispatch` queues the
  runs that are due (called every few seconds by the job queue's ticker).
- Outlook -> Business Central: `subscriptions` keeps each live setup's Graph change
  subscription (created, renewed, recreated, reauthorized, deleted by the ticker's
  upkeep); `views` and `notifications` receive Graph's notifications and ask for runs;
  `polling` looks at the folder every minute while a setup has no subscription;
  `modes` says which of these a setup is in.
"""

from exchange_sync.live.polling import polls_due
from exchange_sync.live.requests import live_runs_dispatch
from exchange_sync.live.subscriptions import subscriptions_maintain

__all__ = ["live_runs_dispatch", "polls_due", "subscriptions_maintain"]
