"""New in release 2: where the indexes live (`.cache/indexes/<name>`)."""

INDEXES = ("standards", "code")


def index_folders(praxis_dir):
    return [(name, praxis_dir / ".cache" / "indexes" / name) for name in INDEXES]
