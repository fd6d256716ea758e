"""Fixture script new in v2."""

print("validate_installation v2")
