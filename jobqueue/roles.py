"""The roles of Contact Sync, as Business Central's permission sets: a group for the
salesperson who synchronizes their own contacts (the contact list, their own setup,
their own syncs, runs, issues, Job Queue Entries and log entries), and one for sync
administrators (everyone's).

They live in jobqueue, the app at the top of the dependency chain (jobqueue ->
exchange_sync -> contacts), because they hold permissions of all three. Created by
migration 0004; `contact_sync_roles_ensure` sets each group to exactly its list.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

USER_ROLE = "Contact Sync User"
ADMINISTRATOR_ROLE = "Contact Sync Administrator"

# Own rows only: without exchange_sync.view_all_sync_setups and
# jobqueue.manage_all_entries the admin shows each user only their own.
CONTACT_SYNC_USER = [
    "contacts.view_contact",
    "contacts.add_contact",
    "contacts.change_contact",
    "exchange_sync.view_exchangesyncsetup",
    "exchange_sync.add_exchangesyncsetup",
    "exchange_sync.change_exchangesyncsetup",
    "exchange_sync.run_contact_sync",
    "exchange_sync.view_syncrun",
    "exchange_sync.view_syncissue",
    "jobqueue.view_jobqueueentry",
    "jobqueue.add_jobqueueentry",
    "jobqueue.change_jobqueueentry",
    "jobqueue.delete_jobqueueentry",
    "jobqueue.view_jobqueuelogentry",
]
# Everyone's setups, runs, issues and entries; no auth.change_user (it would let an
# administrator make themselves superuser), so users are still managed by a superuser.
CONTACT_SYNC_ADMINISTRATOR = [
    *CONTACT_SYNC_USER,
    "contacts.delete_contact",
    "exchange_sync.delete_exchangesyncsetup",
    "exchange_sync.view_all_sync_setups",
    "jobqueue.manage_all_entries",
    "jobqueue.delete_jobqueuelogentry",
    "auth.view_user",
]
ROLES = {USER_ROLE: CONTACT_SYNC_USER, ADMINISTRATOR_ROLE: CONTACT_SYNC_ADMINISTRATOR}


def contact_sync_roles_ensure(apps=global_apps) -> None:
    """Create (or reset) the two groups with exactly their permissions. ``apps`` is a
    migration's historical registry, or the project's."""
    if apps is not global_apps:
        # In a migration the permissions do not exist yet (post_migrate makes them after
        # the last migration): make them now.
        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, names in ROLES.items():
        wanted = {tuple(permission.split(".")) for permission in names}
        permissions = [
            permission
            for permission in Permission.objects.select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        found = {(p.content_type.app_label, p.codename) for p in permissions}
        if found != wanted:
            raise LookupError(f"The role {name} needs permissions that do not exist: {sorted(wanted - found)}")
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
