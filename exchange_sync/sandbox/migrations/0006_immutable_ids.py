"""Contacts get an immutable id next to their regular one; folders a well-known name
(Deleted Items).

A contact made before keeps its id as its immutable id too: the sandbox used to answer
every request with that id, even to clients asking for immutable ids (bcsync always
has), so the links those clients stored keep naming the contact after it moves."""

from django.db import migrations, models
from django.db.models import F

import exchange_sync.sandbox.models


def _immutable_ids_fill(apps, schema_editor):
    Contact = apps.get_model("graph_sandbox", "Contact")
    Contact.objects.update(immutable_id=F("graph_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("graph_sandbox", "0005_value_copies"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="immutable_id",
            field=models.CharField(
                db_index=True, default=exchange_sync.sandbox.models.immutable_id_new, max_length=100
            ),
        ),
        migrations.RunPython(_immutable_ids_fill, migrations.RunPython.noop),
        migrations.AddField(
            model_name="folder",
            name="well_known_name",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]
