/**
 * A migration to a layout whose server reads `config/mcp.yaml` instead of `config.json`
 * (praxis-os's `ouroboros`). The file is the user's: it moves with the installation and is
 * never written. What it sets beyond upstream's defaults (agent-os-enhanced's `RAGConfig`
 * and `MCPConfig`) the new server no longer reads, so each such value is reported, with
 * the `mcp.yaml` key where one takes the same meaning.
 */
import fs from "node:fs";
import path from "node:path";

/** Upstream's defaults (mcp_server/models/config.py): a value equal to its default needs carrying nowhere. */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  "rag.standards_path": ".agent-os/standards",
  "rag.workflows_path": ".agent-os/workflows",
  "rag.index_path": ".agent-os/.cache/vector_index",
  "rag.embedding_provider": "local",
  "mcp.enabled_tool_groups": ["rag", "workflow", "browser"],
  "mcp.max_tools_warning": 20,
  "mcp.http_port": 4242,
  "mcp.http_host": "127.0.0.1",
  "mcp.http_path": "/mcp",
};

export interface CarriedValue {
  key: string;
  value: unknown;
  /** Where `config/mcp.yaml` takes it, when it has a key of the same meaning. */
  yaml?: string;
}

/** `a.b` → value for every leaf of a JSON object (arrays are leaves). */
function leaves(obj: unknown, prefix = "", out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    if (prefix) out.push([prefix, obj]);
    return out;
  }
  for (const [k, v] of Object.entries(obj)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** `rag.standards_path` is project-relative through the old folder; mcp.yaml's source paths are relative to the new one. */
function yamlFor(key: string, value: unknown, fromDir: string): string | undefined {
  if (key !== "rag.standards_path" || typeof value !== "string") return undefined;
  const rel = value.startsWith(`${fromDir}/`) ? value.slice(fromDir.length + 1) : `../${value}`;
  return `indexes.standards.source_paths: ["${rel.replace(/\/?$/, "/")}"]`;
}

/**
 * The values of `<install>/config.json` that differ from upstream's defaults; null when there
 * is no such file. `invalid` when it cannot be read as a JSON object.
 */
export function configJsonValues(installDir: string, fromDir: string): CarriedValue[] | "invalid" | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(installDir, "config.json"), "utf8");
  } catch {
    return null;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return "invalid";
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return "invalid";
  return leaves(data)
    .filter(([k, v]) => JSON.stringify(DEFAULTS[k]) !== JSON.stringify(v))
    .map(([key, value]) => ({ key, value, ...(yamlFor(key, value, fromDir) ? { yaml: yamlFor(key, value, fromDir) } : {}) }));
}
