/**
 * Evidence gates. Each phase's evidence is computed by the plugins that ran it and must pass
 * the phase's gate before the phase counts as complete: the values must say success
 * (`integrity_verified === true`, registered tools ⊇ expected), not merely be present —
 * upstream's gates accepted any evidence with the right keys.
 *
 * The engine owns only its own evidence (the lock). Every plugin declares the schema of
 * what it contributes to each phase (`Plugin.evidence`), and a phase's gate is the merge of
 * the engine's schema and the schemas of the plugins present: disable a plugin and its
 * demands leave with it.
 */
import { z } from "zod";
import type { Phase } from "./phases.ts";

/** Per phase, the schema of the evidence one party contributes. */
export type EvidenceSchemas = Partial<Record<Phase, z.ZodType>>;

/** What the engine itself contributes: the lock it takes in phase 1 and releases in phase 5. */
export const ENGINE_EVIDENCE: EvidenceSchemas = {
  1: z.looseObject({ lock_acquired: z.literal(true) }),
  5: z.looseObject({ lock_released: z.literal(true) }),
};

/** What one plugin fills in while a phase runs: its own record of the phase; the gate then checks it. */
// deno-lint-ignore no-unused-vars
export type EvidenceDraft<P extends Phase = Phase> = Record<string, unknown>;

/** A phase's evidence as recorded: each party's record under its name (the core's under "engine"). */
export type PhaseEvidence = Record<string, Record<string, unknown>>;

/**
 * The evidence of one phase while it runs. The engine passes it to the phase's hooks, and
 * every tap receives only its own plugin's record (core/plugin.ts scopes it, as it scopes
 * findings): a plugin cannot write another's evidence, and reads it only through the typed
 * reader the owner exports (`evidenceReader`).
 */
export class EvidenceBook {
  constructor(readonly records: PhaseEvidence = {}) {}

  /** The record of one party, created on first use. */
  of(owner: string): Record<string, unknown> {
    return (this.records[owner] ??= {});
  }
}

/** Where evidence is read: this run's context (its phases so far) or a session file. */
export type EvidenceSource =
  | { evidence(phase: Phase, plugin: string): Readonly<Record<string, unknown>> | undefined }
  | { phases: Record<string, { evidence: Record<string, unknown> } | undefined> };

/** The record a party left for a phase in a source. */
export function evidenceOf(src: EvidenceSource, phase: Phase, owner: string): Readonly<Record<string, unknown>> | undefined {
  if ("evidence" in src) return src.evidence(phase, owner);
  const rec = src.phases[String(phase)]?.evidence?.[owner];
  return rec && typeof rec === "object" ? rec as Record<string, unknown> : undefined;
}

/**
 * The typed reader an owner exports for its evidence of one phase. It does not parse: a
 * completed phase passed its gate already, and a failed phase's record may be partial.
 */
export function evidenceReader<S extends z.ZodType>(owner: string, phase: Phase, _schema: S): (src: EvidenceSource) => Partial<z.output<S>> | undefined {
  return (src) => evidenceOf(src, phase, owner) as Partial<z.output<S>> | undefined;
}

export type GateResult = { ok: true } | { ok: false; problems: string[] };

/** A schema contributed by a named party (a plugin, or "engine"). */
export interface GatePart {
  owner: string;
  schema: z.ZodType;
}

/** The parts of one phase's gate: the engine's, then each plugin's, in plugin order. */
export function gateParts(phase: Phase, owners: readonly { name: string; evidence?: EvidenceSchemas }[]): GatePart[] {
  const parts: GatePart[] = [];
  if (ENGINE_EVIDENCE[phase]) parts.push({ owner: "engine", schema: ENGINE_EVIDENCE[phase]! });
  for (const o of owners) {
    const s = o.evidence?.[phase];
    if (s) parts.push({ owner: o.name, schema: s });
  }
  return parts;
}

/** Checks each part's own record against its schema; a problem names the part that demanded it. */
export function checkGate(parts: readonly GatePart[], evidence: PhaseEvidence): GateResult {
  const problems: string[] = [];
  for (const part of parts) {
    const r = part.schema.safeParse(evidence[part.owner] ?? {});
    if (r.success) continue;
    for (const i of r.error.issues) problems.push(`${part.owner}: ${i.path.length ? i.path.join(".") : "(evidence)"}: ${i.message}`);
  }
  return problems.length ? { ok: false, problems } : { ok: true };
}
