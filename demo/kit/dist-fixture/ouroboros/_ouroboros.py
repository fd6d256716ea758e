"""What every release of the fixture `ouroboros` server shares: finding `.praxis-os`, the
config check and the `pos_` tools (plus `get_server_info` and `current_date`).

The tools answer from the files (a substring search, folder listings): enough for an
upgrader's smoke calls, no index. The first `pos_search_project` call creates
`.cache/indexes/{standards,code}/` as upstream's server does (derived files).
"""

import os
import re
from datetime import date
from pathlib import Path

from ._common import Tool, server_info_tool

CONFIG_FILE = Path("config") / "mcp.yaml"
VERSION_LINE = re.compile(r"""^version:\s*(["']?)([0-9][0-9.]*)\1\s*(#.*)?$""")


class ConfigError(Exception):
    pass


def find_praxis_dir():
    """PROJECT_ROOT's `.praxis-os`, then the working folder's, then `~/.praxis-os` (upstream's order)."""
    candidates = []
    if os.environ.get("PROJECT_ROOT"):
        candidates.append(Path(os.environ["PROJECT_ROOT"]) / ".praxis-os")
    candidates += [Path.cwd() / ".praxis-os", Path.home() / ".praxis-os"]
    return next((c.resolve() for c in candidates if c.is_dir()), None)


def read_config(praxis_dir):
    """The config's top-level `version` (a trivial check, not a YAML parser: a version line, no tabs)."""
    path = praxis_dir / CONFIG_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the config {path}: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise ConfigError(f"Invalid config {path}: line {number} is indented with a tab")
    versions = [m.group(2) for m in map(VERSION_LINE.match, lines) if m]
    if len(versions) != 1:
        raise ConfigError(f"Invalid config {path}: expected one top-level 'version:' line, found {len(versions)}")
    return {"version": versions[0]}


def _markdown_hits(folder, query, limit):
    hits = []
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        line = next((l for l in text.splitlines() if query.lower() in l.lower()), None)
        if line is not None:
            hits.append(f"- {path.relative_to(folder.parent).as_posix()}: {line.strip()}")
        if len(hits) >= limit:
            break
    return hits


def search_project_tool(praxis_dir):
    def search(arguments):
        action = arguments.get("action", "search_standards")
        query = str(arguments.get("query", "")).strip()
        for index in ("standards", "code"):
            (praxis_dir / ".cache" / "indexes" / index).mkdir(parents=True, exist_ok=True)
        if action != "search_standards":
            return f"No results: the fixture indexes no code (action {action})"
        hits = _markdown_hits(praxis_dir / "standards", query, int(arguments.get("n_results", 3) or 3)) if query else []
        return f"Found {len(hits)} result(s) for '{query}':\n" + "\n".join(hits) if hits else f"No standards matched '{query}'"

    props = {"action": {"type": "string"}, "query": {"type": "string"}, "n_results": {"type": "integer"}}
    return Tool("pos_search_project", "Search the project's standards (and code)", search, props, required=["query"])


def workflow_tool(praxis_dir):
    def workflow(arguments):
        action = arguments.get("action", "list_workflows")
        if action != "list_workflows":
            return f"The fixture supports only action list_workflows (got {action})"
        folder = praxis_dir / "workflows"
        return "\n".join(sorted(p.name for p in folder.iterdir() if p.is_dir())) if folder.is_dir() else ""

    return Tool("pos_workflow", "Workflows: list, start, advance", workflow, {"action": {"type": "string"}})


def browser_tool():
    return Tool("pos_browser", "Browser automation (not available in the fixture)",
                lambda _arguments: "The fixture has no browser", {"action": {"type": "string"}})


def filesystem_tool(praxis_dir):
    def filesystem(arguments):
        target = (praxis_dir / str(arguments.get("path", "."))).resolve()
        if target != praxis_dir and praxis_dir not in target.parents:
            return f"Refused: {arguments.get('path')} is outside .praxis-os"
        if not target.is_dir():
            return f"Not a folder: {arguments.get('path')}"
        return "\n".join(sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir()))

    return Tool("pos_filesystem", "List a folder under .praxis-os", filesystem, {"action": {"type": "string"}, "path": {"type": "string"}})


def current_date_tool():
    return Tool("current_date", "Today's date (ISO 8601)", lambda _arguments: date.today().isoformat())


def tools(praxis_dir, info):
    return [
        search_project_tool(praxis_dir),
        workflow_tool(praxis_dir),
        browser_tool(),
        filesystem_tool(praxis_dir),
        server_info_tool(info),
        current_date_tool(),
    ]
