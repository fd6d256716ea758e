"""Agent OS test MCP server (agent-os-upgrade fixture), version 1."""

__version__ = "1.0.0"
