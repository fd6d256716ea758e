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

/** What plugins fill in while a phase runs; the gate then checks it. */
// deno-lint-ignore no-unused-vars
export type EvidenceDraft<P extends Phase = Phase> = Record<string, unknown>;

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

/** Checks the evidence against every part; a problem names the part that demanded it. */
export function checkGate(parts: readonly GatePart[], evidence: unknown): GateResult {
  const problems: string[] = [];
  for (const part of parts) {
    const r = part.schema.safeParse(evidence);
    if (r.success) continue;
    for (const i of r.error.issues) problems.push(`${part.owner}: ${i.path.length ? i.path.join(".") : "(evidence)"}: ${i.message}`);
  }
  return problems.length ? { ok: false, problems } : { ok: true };
}
