/**
 * Evidence gates. Each phase's evidence is computed by the plugins that ran it and must pass
 * the phase's schema before the phase counts as complete: the values must say success
 * (`integrity_verified === true`, registered tools ⊇ expected), not merely be present —
 * upstream's gates accepted any evidence with the right keys.
 */
import { z } from "zod";
import type { Phase } from "./phases.ts";

const sha1 = z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-hex git commit");
const count = z.number().int().nonnegative();

export const PreflightEvidence = z
  .looseObject({
    source_path: z.string().min(1),
    source_commit: sha1,
    source_branch: z.string().nullable(),
    source_git_clean: z.literal(true),
    target_structure_valid: z.literal(true),
    disk_space_available: z.number().nonnegative(),
    disk_space_required: z.number().nonnegative(),
    no_concurrent_workflows: z.literal(true),
    from_version: z.string().nullable(),
    to_version: z.string().min(1),
  })
  .refine((e) => e.disk_space_available >= e.disk_space_required, {
    message: "not enough free disk space",
    path: ["disk_space_available"],
  });

export const BackupEvidence = z.looseObject({
  backup_path: z.string().min(1),
  backup_id: z.string().min(1),
  files_backed_up: z.number().int().positive(),
  backup_size_bytes: count,
  integrity_verified: z.literal(true),
  lock_acquired: z.literal(true),
});

export const ContentEvidence = z
  .looseObject({
    plan_counts: z.object({
      new: count,
      updated: count,
      unchanged: count,
      kept_local: count,
      conflicts: count,
      deleted: count,
      errors: count,
    }),
    files_written: count,
    written_hashes_verified: z.literal(true),
    /** Files left with conflict markers after an unclean merge: allowed, and listed in the report. */
    needs_attention: z.array(z.string()),
  })
  .refine((e) => e.plan_counts.errors === 0, { message: "the content plan has errors", path: ["plan_counts", "errors"] });

export const ServerEvidence = z
  .looseObject({
    code: z.looseObject({ status: z.enum(["swapped", "unchanged"]), hashes_verified: z.literal(true) }),
    deps: z.looseObject({ status: z.enum(["installed", "unchanged", "skipped"]), pip_check_ok: z.boolean().nullable() }),
    restart: z.looseObject({ status: z.enum(["restarted", "ide_reload_required", "not_running", "skipped"]) }),
  })
  .refine((e) => e.deps.status !== "installed" || e.deps.pip_check_ok === true, {
    message: "pip check did not pass after installing",
    path: ["deps", "pip_check_ok"],
  });

export const ValidationEvidence = z
  .looseObject({
    tools_expected: z.array(z.string()),
    tools_registered: z.array(z.string()),
    smoke_tests: z.array(z.object({ tool: z.string(), ok: z.boolean() })),
    stderr_errors: z.array(z.string()).max(0, "the server logged errors during the checks"),
    user_files_unchanged: z.literal(true),
    validation_report: z.string().min(1),
  })
  .refine((e) => e.tools_expected.every((t) => e.tools_registered.includes(t)), {
    message: "the server does not register every expected tool",
    path: ["tools_registered"],
  })
  .refine((e) => e.smoke_tests.every((s) => s.ok), { message: "a smoke test failed", path: ["smoke_tests"] });

export const CleanupEvidence = z.looseObject({
  lock_released: z.literal(true),
  report_path: z.string().min(1),
});

export const EVIDENCE_SCHEMAS = {
  0: PreflightEvidence,
  1: BackupEvidence,
  2: ContentEvidence,
  3: ServerEvidence,
  4: ValidationEvidence,
  5: CleanupEvidence,
} as const satisfies Record<Phase, z.ZodType>;

export type EvidenceOf<P extends Phase> = z.infer<(typeof EVIDENCE_SCHEMAS)[P]>;
/** What plugins fill in while a phase runs; the gate then checks it. */
export type EvidenceDraft<P extends Phase> = Partial<EvidenceOf<P>> & Record<string, unknown>;

export type GateResult = { ok: true } | { ok: false; problems: string[] };

export function checkGate(phase: Phase, evidence: unknown): GateResult {
  const r = EVIDENCE_SCHEMAS[phase].safeParse(evidence);
  if (r.success) return { ok: true };
  return {
    ok: false,
    problems: r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(evidence)"}: ${i.message}`),
  };
}
