"""Protocol code shared by every version of the agent-os-upgrade test MCP server.

Standard library only. Each fixture version folder carries a byte-identical copy of this
file (tests check it), so that its `mcp_server/` is a self-contained package once copied
into an installation; what differs between versions lives in `__main__.py`.

MCP here is JSON-RPC 2.0: over stdio as newline-delimited JSON, and over "streamable
HTTP" as POST /mcp answered with `application/json` (no SSE; GET says 405). In `http` and
`dual` mode the server writes `<install>/.mcp_server_state.json` (pid, url, transport) and
serves until SIGTERM; the file is removed on a clean exit when it still names this pid.
"""

import json
import logging
import os
import signal
import stat
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Newest first; the answer echoes the client's version when we know it.
SUPPORTED_PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
FALLBACK_PROTOCOL_VERSION = "2025-06-18"
STATE_FILE_NAME = ".mcp_server_state.json"

# The installation folder: the directory that holds this package (the PYTHONPATH entry).
INSTALL_DIR = Path(__file__).resolve().parent.parent

log = logging.getLogger("mcp_server")


def setup_logging():
    """Log to stderr; only real faults may use the ERROR/CRITICAL levels (health checks scan for them)."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class JsonRpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Tool:
    """A tool: a name, a JSON schema for its arguments and a handler returning text."""

    def __init__(self, name, description, handler, properties=None, required=()):
        self.name = name
        self.description = description
        self.handler = handler
        self.properties = properties or {}
        self.required = list(required)

    def spec(self):
        schema = {"type": "object", "properties": self.properties}
        if self.required:
            schema["required"] = self.required
        return {"name": self.name, "description": self.description, "inputSchema": schema}


class McpServer:
    """Answers MCP requests; transport-agnostic (see serve_stdio and serve_http)."""

    def __init__(self, name, version, tools, before_list_tools=None):
        self.name = name
        self.version = version
        self.tools = {tool.name: tool for tool in tools}
        self.before_list_tools = before_list_tools

    def handle(self, message):
        """Return the response to one message, or None for notifications and responses."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return _error(None, -32600, "Invalid Request")
        method = message.get("method")
        if method is None:
            return None  # a response to a request we never sent
        is_request = "id" in message
        msg_id = message.get("id")
        params = message.get("params") or {}
        try:
            if method == "initialize":
                result = self._initialize(params)
            elif method == "ping":
                result = {}
            elif method == "tools/list":
                if self.before_list_tools:
                    self.before_list_tools()
                result = {"tools": [tool.spec() for tool in self.tools.values()]}
            elif method == "tools/call":
                result = self._call_tool(params)
            elif method.startswith("notifications/"):
                return None
            else:
                raise JsonRpcError(-32601, f"Method not found: {method}")
        except JsonRpcError as exc:
            return _error(msg_id, exc.code, exc.message) if is_request else None
        return {"jsonrpc": "2.0", "id": msg_id, "result": result} if is_request else None

    def handle_payload(self, payload):
        """A parsed body: one message or a batch. Returns a reply, a list of replies, or None."""
        if isinstance(payload, list):
            replies = [reply for reply in map(self.handle, payload) if reply is not None]
            return replies or None
        return self.handle(payload)

    def _initialize(self, params):
        requested = params.get("protocolVersion")
        version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else FALLBACK_PROTOCOL_VERSION
        client = (params.get("clientInfo") or {}).get("name", "?")
        log.info("initialize from %s (protocol %s)", client, version)
        return {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self.name, "version": self.version},
        }

    def _call_tool(self, params):
        name = params.get("name")
        tool = self.tools.get(name)
        if tool is None:
            raise JsonRpcError(-32602, f"Unknown tool: {name}")
        arguments = params.get("arguments") or {}
        missing = [key for key in tool.required if key not in arguments]
        if missing:
            return _tool_text(f"Missing argument(s): {', '.join(missing)}", is_error=True)
        return _tool_text(tool.handler(arguments))


def _tool_text(text, is_error=False):
    return {"content": [{"type": "text", "text": text}], "isError": is_error}


def _error(msg_id, code, message):
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


# --- the standard tools ------------------------------------------------------------------


def search_standards_tool():
    def search(arguments):
        query = str(arguments.get("query", "")).strip()
        limit = int(arguments.get("n_results", 3) or 3)
        files = sorted((INSTALL_DIR / "standards").rglob("*.md"))
        hits = []
        for path in files:
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                if query and query.lower() in line.lower():
                    hits.append(f"- {path.relative_to(INSTALL_DIR).as_posix()}: {line.strip()}")
                    break
            if len(hits) >= limit:
                break
        if not hits:
            return f"No standards matched '{query}' (searched {len(files)} files)"
        return f"Found {len(hits)} result(s) for '{query}':\n" + "\n".join(hits)

    return Tool(
        "search_standards",
        "Search the installed Agent OS standards for a phrase",
        search,
        {"query": {"type": "string"}, "n_results": {"type": "integer"}},
        required=["query"],
    )


def list_workflows_tool(fallback=("spec_creation_v1", "spec_execution_v1")):
    def list_workflows(_arguments):
        folder = INSTALL_DIR / "workflows"
        names = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        return "\n".join(names or fallback)

    return Tool("list_workflows", "List the installed workflows", list_workflows)


def server_info_tool(info):
    def server_info(_arguments):
        return json.dumps({**info, "pid": os.getpid(), "install_dir": str(INSTALL_DIR)}, sort_keys=True)

    return Tool("get_server_info", "Describe this server: version, transport, dependencies", server_info)


# --- transports ----------------------------------------------------------------------------


def stdin_is_detached():
    """True when stdin is closed or /dev/null: started in the background, not by an IDE."""
    try:
        mode = os.fstat(0)
    except OSError:
        return True
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(mode.st_mode) and mode.st_rdev == null.st_rdev


def serve_stdio(server, on_eof):
    """Answer newline-delimited JSON-RPC on stdin/stdout until stdin ends, then call on_eof."""
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.strip()
        if not line:
            continue
        try:
            reply = server.handle_payload(json.loads(line))
        except ValueError:
            reply = _error(None, -32700, "Parse error")
        if reply is not None:
            out.write(json.dumps(reply).encode("utf-8") + b"\n")
            out.flush()
    on_eof()


def make_http_server(server, host, port):
    sessions = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            log.debug("http: " + fmt, *args)

        def _send(self, status, body=b"", headers=None, content_type="application/json"):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _reject(self, status, message):
            self._send(status, json.dumps(_error(None, -32000, message)).encode("utf-8"))

        def do_POST(self):
            if self.path.split("?", 1)[0] != "/mcp":
                return self._reject(404, "Not found: use /mcp")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = json.loads(body)
            except ValueError:
                return self._send(400, json.dumps(_error(None, -32700, "Parse error")).encode("utf-8"))
            messages = payload if isinstance(payload, list) else [payload]
            session = self.headers.get("Mcp-Session-Id")
            if any(isinstance(m, dict) and m.get("method") == "initialize" for m in messages):
                session = uuid.uuid4().hex
                with lock:
                    sessions.add(session)
            elif session is None:
                return self._reject(400, "Bad Request: Mcp-Session-Id header is required")
            else:
                with lock:
                    if session not in sessions:
                        return self._reject(404, "Session not found")
            reply = server.handle_payload(payload)
            headers = {"Mcp-Session-Id": session}
            if reply is None:
                return self._send(202, headers=headers)
            self._send(200, json.dumps(reply).encode("utf-8"), headers)

        def do_GET(self):
            self._send(405, headers={"Allow": "POST, DELETE"})

        def do_DELETE(self):
            with lock:
                sessions.discard(self.headers.get("Mcp-Session-Id"))
            self._send(200)

    return ThreadingHTTPServer((host, port), Handler)


def write_state(state):
    """Write the state file atomically: temp file, fsync, rename."""
    path = INSTALL_DIR / STATE_FILE_NAME
    tmp = path.with_name(f"{STATE_FILE_NAME}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def remove_state_if_ours():
    path = INSTALL_DIR / STATE_FILE_NAME
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def run(server, transport, host="127.0.0.1", port=0):
    """Serve over `stdio`, `http` or `dual` until stdin ends (stdio) or SIGTERM/SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    httpd = None
    if transport in ("http", "dual"):
        httpd = make_http_server(server, host, port)
        bound_port = httpd.server_address[1]
        url = f"http://{host}:{bound_port}/mcp"
        threading.Thread(target=httpd.serve_forever, args=(0.05,), name="http", daemon=True).start()
        write_state({
            "pid": os.getpid(),
            "url": url,
            "transport": transport,
            "port": bound_port,
            "started_at": datetime.now(timezone.utc).isoformat(),
            "server_version": server.version,
        })
        log.info("serving %s on %s (pid %d)", transport, url, os.getpid())

    if transport == "stdio" or (transport == "dual" and not stdin_is_detached()):
        # An IDE-owned server ends with its stdin; a detached dual server keeps serving HTTP.
        threading.Thread(target=serve_stdio, args=(server, stop.set), name="stdio", daemon=True).start()

    while not stop.wait(0.1):
        pass
    if httpd is not None:
        httpd.shutdown()
        httpd.server_close()
        remove_state_if_ours()
    log.info("stopped")
    return 0
