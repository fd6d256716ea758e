"""Release 1: what it imports from requirements.txt and what it adds to the shared tools."""

import aou_fixture_a  # from requirements.txt: fails here when the venv lacks it

from .subsystems import legacy_index  # noqa: F401  only in release 1

RELEASE = 1
DEPENDENCIES = {"aou-fixture-a": aou_fixture_a.VERSION}


def extra_tools(_praxis_dir):
    return []
