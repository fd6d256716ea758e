"""Subsystems of the fixture server (each release ships its own)."""
