"""`python -m ouroboros --transport dual|stdio|http`: the fixture of praxis-os's server.

As upstream's, `--transport` is required (argparse: usage on stderr, exit 2 without it),
`.praxis-os` is found through PROJECT_ROOT, then the working folder, then the home folder,
and `config/mcp.yaml` is read at start. The release (its dependencies from requirements.txt
and its extra tools) is imported only after both checks, so a bad command line or config is
reported as such even when the venv lacks the release's packages.
"""

import argparse
import logging
import sys

from . import __version__
from ._common import McpServer, run, setup_logging
from ._ouroboros import ConfigError, find_praxis_dir, read_config, tools

log = logging.getLogger("ouroboros")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m ouroboros", description="prAxIs OS MCP server (agent-os-upgrade fixture)")
    parser.add_argument("--transport", required=True, choices=["dual", "stdio", "http"],
                        help="stdio for an IDE, http for agents, dual for both (http on 127.0.0.1 only)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    praxis_dir = find_praxis_dir()
    if praxis_dir is None:
        log.error("Cannot find .praxis-os: set PROJECT_ROOT to the project folder or start the server there")
        return 1
    try:
        config = read_config(praxis_dir)
    except ConfigError as exc:
        log.error("%s", exc)
        return 1
    from . import release  # imports the release's dependencies: fails here when the venv lacks them

    info = {
        "name": "ouroboros",
        "version": __version__,
        "release": release.RELEASE,
        "transport": args.transport,
        "praxis_dir": str(praxis_dir),
        "config_version": config["version"],
        "dependencies": release.DEPENDENCIES,
    }
    server = McpServer("praxis-os", __version__, tools(praxis_dir, info) + release.extra_tools(praxis_dir))
    return run(server, args.transport)


if __name__ == "__main__":
    sys.exit(main())
