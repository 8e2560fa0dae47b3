"""Contacts get an immutable id next to their regular one; folders a well-known name
(Deleted Items). Contacts made before get a fresh immutable id each: the sandbox never
served one, so no client holds an immutable id of theirs yet."""

import base64
import secrets

from django.db import migrations, models

# As exchange_sync.sandbox.ids.new_id(IMMUTABLE), written out: migrations keep their own copy.
_MARKER = b"\x00\x00\x00\x01BCSBX"


def _immutable_ids_fill(apps, schema_editor):
    Contact = apps.get_model("graph_sandbox", "Contact")
    for contact in Contact.objects.filter(immutable_id="").only("pk").iterator(chunk_size=2000):
        immutable_id = base64.b64encode(_MARKER + b"I" + secrets.token_bytes(31)).decode()
        Contact.objects.filter(pk=contact.pk).update(immutable_id=immutable_id)


class Migration(migrations.Migration):
    dependencies = [
        ("graph_sandbox", "0005_value_copies"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="immutable_id",
            field=models.CharField(db_index=True, default="", max_length=100),
            preserve_default=False,
        ),
        migrations.RunPython(_immutable_ids_fill, migrations.RunPython.noop),
        migrations.AddField(
            model_name="folder",
            name="well_known_name",
            field=models.CharField(blank=True, default="", max_length=40),
        ),
    ]
