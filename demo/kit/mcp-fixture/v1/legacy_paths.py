"""Only in v1: an upgrade must not leave this module behind in the installation."""

DEFAULT_WORKFLOWS = ("spec_creation_v1", "spec_execution_v1")
