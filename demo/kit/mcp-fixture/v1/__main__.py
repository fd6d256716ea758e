"""v1: stdio only, two tools. Like the old upstream server, it takes no arguments."""

import sys

import aou_fixture_a  # noqa: F401  the dependency from requirements.txt: fails here if missing

from . import __version__
from ._common import McpServer, list_workflows_tool, run, search_standards_tool, setup_logging
from .legacy_paths import DEFAULT_WORKFLOWS


def main():
    setup_logging()
    server = McpServer(
        "agent-os-fixture",
        __version__,
        [search_standards_tool(), list_workflows_tool(DEFAULT_WORKFLOWS)],
    )
    return run(server, "stdio")


if __name__ == "__main__":
    sys.exit(main())
