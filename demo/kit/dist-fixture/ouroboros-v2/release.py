"""Release 2: one more dependency (requirements.txt) and one more tool, `pos_index_status`."""

import aou_fixture_a
import aou_fixture_b  # new in release 2: the venv must have it

from ._common import Tool
from .subsystems.query_router import index_folders

RELEASE = 2
DEPENDENCIES = {"aou-fixture-a": aou_fixture_a.VERSION, "aou-fixture-b": aou_fixture_b.VERSION}


def extra_tools(praxis_dir):
    def status(_arguments):
        return "\n".join(f"{name}: {'built' if folder.is_dir() else 'not built'}" for name, folder in index_folders(praxis_dir))

    return [Tool("pos_index_status", "Which indexes are built (new in release 2)", status)]
