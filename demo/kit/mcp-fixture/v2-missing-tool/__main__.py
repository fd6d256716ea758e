"""v2-missing-tool: a working v2 that registers only two of its three tools."""

import argparse
import sys

import aou_fixture_b  # noqa: F401

from . import __version__
from ._common import McpServer, list_workflows_tool, run, search_standards_tool, setup_logging


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcp_server")
    parser.add_argument("--transport", required=True, choices=["stdio", "http", "dual"])
    args = parser.parse_args(argv)
    setup_logging()
    # get_server_info is missing on purpose.
    server = McpServer("agent-os-fixture", __version__, [search_standards_tool(), list_workflows_tool()])
    return run(server, args.transport)


if __name__ == "__main__":
    sys.exit(main())
