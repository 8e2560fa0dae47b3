"""The exchange_sync admin: users' Microsoft 365 Authentication, the Exchange Sync. Setup
and Contact Sync. Setup page, sync buttons, and the read-only runs and issues."""

from exchange_sync.admin.runs import SyncIssueAdmin, SyncRunAdmin
from exchange_sync.admin.setup import ExchangeSyncSetupAdmin
from exchange_sync.admin.users import BcUserAdmin, M365IdentityInline

__all__ = ["BcUserAdmin", "ExchangeSyncSetupAdmin", "M365IdentityInline", "SyncIssueAdmin", "SyncRunAdmin"]
