"""prAxIs OS MCP server `ouroboros` (agent-os-upgrade fixture), release 2."""

__version__ = "2.0.0"
