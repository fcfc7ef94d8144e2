// Choosing the σ levels of a few-step consistency sampler by measurement, as Song et al. (2023,
// "Consistency Models", §6) choose their multistep sampling times on held-out samples.
//
// The default schedule, karras(n), ends at σ_min, where the consistency function returns nearly its
// input: its last evaluation does almost nothing, so 4 steps do the work of 3 and 2 the work of 1
// (DESIGN.md keeps it as the default, for fidelity to the reference). The candidates here keep
// σ₀ = σ_max (the sampler starts from pure noise) and place the other n − 1 levels log-uniformly
// from a first level σ₁ down to a last level σ_last, two numbers searched on a grid. The caller scores
// each candidate on prompts and noise it does not evaluate on, so the choice is not fitted to the
// numbers it is reported with.

/** A few-step schedule, σ₀ = σ_max first, descending. */
export type Schedule = number[];

export interface ScheduleGrid {
  steps: number;
  sigmaMax: number;
  /** Candidate first levels after σ_max (each < σ_max). */
  first: readonly number[];
  /** Candidate last levels (for steps ≥ 3; each must lie below the first level it is paired with). */
  last: readonly number[];
}

/**
 * Every schedule of the grid: [σ_max] for one step, [σ_max, σ₁] for two, and for more
 * [σ_max, σ₁, …, σ_last] with the levels between σ₁ and σ_last log-uniform. Pairs with
 * σ_last ≥ σ₁ are left out.
 */
export function scheduleCandidates(g: ScheduleGrid): Schedule[] {
  if (!Number.isInteger(g.steps) || g.steps < 1)
    throw new Error(`scheduleCandidates: steps must be a positive integer, got ${g.steps}`);
  for (const s of [...g.first, ...g.last])
    if (!(s > 0 && s < g.sigmaMax))
      throw new Error(`scheduleCandidates: every level must lie in (0, σ_max = ${g.sigmaMax}), got ${s}`);
  if (g.steps === 1) return [[g.sigmaMax]];
  if (g.steps === 2) return g.first.map((s1) => [g.sigmaMax, s1]);
  const out: Schedule[] = [];
  for (const s1 of g.first)
    for (const sLast of g.last) {
      if (!(sLast < s1)) continue;
      const span = Math.log(sLast / s1);
      const inner = Array.from({ length: g.steps - 1 }, (_, i) => s1 * Math.exp((span * i) / (g.steps - 2)));
      out.push([g.sigmaMax, ...inner]);
    }
  return out;
}

export interface ScoredSchedule {
  sigmas: Schedule;
  score: number;
}

/**
 * The best-scoring candidate (the first of equals, so a tie keeps the grid's order) and every
 * candidate's score, in the order tried.
 */
export function searchSchedule(
  candidates: readonly Schedule[],
  score: (sigmas: Schedule) => number,
): { best: ScoredSchedule; tried: ScoredSchedule[] } {
  if (candidates.length === 0) throw new Error('searchSchedule: no candidate schedules');
  const tried = candidates.map((sigmas) => {
    const s = score(sigmas);
    if (!Number.isFinite(s)) throw new Error(`searchSchedule: the score of [${sigmas.join(', ')}] is ${s}`);
    return { sigmas: [...sigmas], score: s };
  });
  let best = tried[0]!;
  for (const t of tried) if (t.score > best.score) best = t;
  return { best, tried };
}
