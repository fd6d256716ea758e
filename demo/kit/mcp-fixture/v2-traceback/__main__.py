"""v2-traceback: answers correctly but logs an ERROR with a traceback on every tools/list."""

import argparse
import sys

import aou_fixture_a
import aou_fixture_b

from . import __version__
from ._common import (
    McpServer, list_workflows_tool, log, run, search_standards_tool, server_info_tool, setup_logging,
)


def refresh_index():
    try:
        raise FileNotFoundError("vector index missing: .cache/vector_index")
    except FileNotFoundError:
        log.exception("Failed to refresh the standards index")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcp_server")
    parser.add_argument("--transport", required=True, choices=["stdio", "http", "dual"])
    args = parser.parse_args(argv)
    setup_logging()
    info = {"version": __version__, "transport": args.transport,
            "dependencies": {"aou-fixture-a": aou_fixture_a.VERSION, "aou-fixture-b": aou_fixture_b.VERSION}}
    server = McpServer(
        "agent-os-fixture",
        __version__,
        [search_standards_tool(), list_workflows_tool(), server_info_tool(info)],
        before_list_tools=refresh_index,
    )
    return run(server, args.transport)


if __name__ == "__main__":
    sys.exit(main())
