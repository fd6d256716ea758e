"""Agent OS test MCP server (agent-os-upgrade fixture), version 2."""

__version__ = "2.0.0"
