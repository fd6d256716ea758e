"""v2-hang: reads every message and answers none, not even `initialize`; serves no HTTP."""

import argparse
import sys
import threading

import aou_fixture_b  # noqa: F401

from ._common import log, setup_logging, stdin_is_detached


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcp_server")
    parser.add_argument("--transport", required=True, choices=["stdio", "http", "dual"])
    args = parser.parse_args(argv)
    setup_logging()
    log.info("started (%s); this build never answers", args.transport)
    if args.transport != "stdio" and stdin_is_detached():
        threading.Event().wait()  # until SIGTERM
    for _line in sys.stdin.buffer:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
