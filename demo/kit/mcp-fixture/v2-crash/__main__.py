"""v2-crash: accepts its arguments, then fails at start with a traceback (exit 1)."""

import argparse
import sys

import aou_fixture_b  # noqa: F401


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcp_server")
    parser.add_argument("--transport", required=True, choices=["stdio", "http", "dual"])
    parser.parse_args(argv)
    raise RuntimeError("Simulated start-up failure (v2-crash fixture)")


if __name__ == "__main__":
    sys.exit(main())
