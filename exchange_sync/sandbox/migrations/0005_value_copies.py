from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [
        ("graph_sandbox", "0004_folder_parent"),
    ]

    operations = [
        migrations.CreateModel(
            name="ValueCopies",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("property_id", models.CharField(max_length=300)),
                ("value_folded", models.CharField(max_length=255)),
                ("most", models.PositiveIntegerField(default=0)),
                (
                    "folder",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="graph_sandbox.folder"
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "value copies",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("folder", "property_id", "value_folded"), name="sbx_copies_unique"
                    )
                ],
            },
        ),
    ]
