"""prAxIs OS MCP server `ouroboros` (agent-os-upgrade fixture), release 1."""

__version__ = "1.0.0"
