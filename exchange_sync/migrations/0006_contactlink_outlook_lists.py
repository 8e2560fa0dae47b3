from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exchange_sync", "0005_delta_link_kept_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="contactlink",
            name="outlook_lists",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
