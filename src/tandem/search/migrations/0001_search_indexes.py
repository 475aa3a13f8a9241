"""The search indexes: FTS5 trigram tables kept by triggers on SQLite, pg_trgm GIN indexes on PostgreSQL,
and lower(name) b-tree indexes on accounts and deals (tandem/search/indexing.py says what and why).

PostgreSQL: `CREATE EXTENSION pg_trgm` needs a superuser, or (PostgreSQL 13+) the owner of the database;
production creates the extension beforehand when Tandem's role has neither (docs/search.md).
"""

from django.db import migrations


def install(apps, schema_editor):
    from tandem.search import indexing

    indexing.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from tandem.search import indexing

    indexing.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    # After the latest migrations of the tables it indexes: on SQLite, rebuilding a table drops its triggers.
    dependencies = [
        ("crm", "0006_activity_kind_outcome_and_deal_stage_required"),
        ("campaigns", "0006_costs_from_actual_cost"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
