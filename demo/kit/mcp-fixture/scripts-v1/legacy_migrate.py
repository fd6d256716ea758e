"""Fixture script only in v1: an upgrade must remove it."""

print("legacy_migrate v1")
