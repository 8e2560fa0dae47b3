"""The sync engine (DESIGN.md, "Sync semantics"): `sync_setup` / `sync_run_execute`."""

from exchange_sync.sync.engine import COUNTERS
from exchange_sync.sync.run import sync_run_execute, sync_setup

__all__ = ["COUNTERS", "sync_run_execute", "sync_setup"]
