"""v2: three tools; `--transport stdio|http|dual` is required (as upstream since 2025-10-11)."""

import argparse
import sys

import aou_fixture_a
import aou_fixture_b  # new in v2: the venv must have it (requirements.txt)

from . import __version__
from ._common import McpServer, list_workflows_tool, run, search_standards_tool, server_info_tool, setup_logging


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description="Agent OS MCP server (test fixture)")
    parser.add_argument("--transport", required=True, choices=["stdio", "http", "dual"],
                        help="stdio for an IDE, http for agents, dual for both")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    info = {
        "version": __version__,
        "transport": args.transport,
        "dependencies": {"aou-fixture-a": aou_fixture_a.VERSION, "aou-fixture-b": aou_fixture_b.VERSION},
    }
    server = McpServer(
        "agent-os-fixture",
        __version__,
        [search_standards_tool(), list_workflows_tool(), server_info_tool(info)],
    )
    return run(server, args.transport, host=args.host, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
