"""The operational store: tables (private), repositories returning domain objects, migrations."""
