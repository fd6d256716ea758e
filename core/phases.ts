/** The six phases as a literal tuple, so `Record<Phase, …>` tables cannot miss one. */
export const PHASES = [0, 1, 2, 3, 4, 5] as const;
export type Phase = (typeof PHASES)[number];

export const PHASE_NAMES: Record<Phase, string> = {
  0: "pre-flight",
  1: "backup",
  2: "content",
  3: "server",
  4: "validation",
  5: "cleanup",
};

/** A failure in these phases has changed the installation, so it triggers rollback (SPEC §5.7). */
export const ROLLBACK_PHASES: readonly Phase[] = [2, 3, 4];
