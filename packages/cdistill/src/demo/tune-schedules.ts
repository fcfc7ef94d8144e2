// The demo's searched few-step schedules: for each tuned sampler, every candidate of a small grid
// (sampling/schedule-search.ts) is scored on held-out prompts and noise, never on the evaluation
// set, by named × coverage, and the best is what the evaluation then runs once.
import type { TextToImageModel } from '../models/load.js';
import { scheduleCandidates, searchSchedule, type ScoredSchedule } from '../sampling/schedule-search.js';
import { samplePrompts } from '../worlds/shapes/index.js';
import {
  evalSetOf,
  evaluate,
  TUNED_SAMPLERS,
  type EvalSet,
  type EvalStudent,
  type TunedSamplerName,
} from './evaluate.js';

/**
 * σ₁ and σ_last candidates. Chosen from a wider search on held-out prompts with the 25,000-step
 * teacher's demo student and its undistilled DiT (σ₁ 20 … 0.6, σ_last 2 … 0.25; docs/demo.md): the
 * best held-out scores were all at σ₁ 5–10 and σ_last 0.5–2, at 2 and at 4 steps. Nine 4-step and
 * three 2-step candidates per sampler keep the search near a minute on one core.
 */
export const SCHEDULE_GRID = { first: [10, 5, 2.5], last: [2, 1, 0.5] } as const;

/** Seeds of the held-out prompts and noise, apart from the evaluation set's (101, 102, 50,000+). */
const HELD_OUT_PROMPT_SEEDS = { open: 202, full: 201 } as const;
const HELD_OUT_NOISE_SEED = 90_000;

/** Held-out prompts drawn as the evaluation set's are, half as many, with the same samples per prompt. */
export function heldOutSet(
  size: { evalOpenPrompts: number; evalFullPrompts: number; evalSamples: number },
  nameProbability: number,
): EvalSet {
  const prompts = [
    ...samplePrompts(Math.max(1, Math.round(size.evalOpenPrompts / 2)), HELD_OUT_PROMPT_SEEDS.open, {
      nameProbability,
      openOnly: true,
    }),
    ...samplePrompts(Math.max(1, Math.round(size.evalFullPrompts / 2)), HELD_OUT_PROMPT_SEEDS.full, {
      nameProbability: 1,
    }),
  ];
  return evalSetOf(prompts, size.evalSamples, HELD_OUT_NOISE_SEED);
}

export interface TunedSchedule extends ScoredSchedule {
  /** Every candidate with its held-out named × coverage, in the order tried. */
  tried: ScoredSchedule[];
}

/** Searches a schedule for each tuned sampler on `heldOut`; `onSampler` hears each name first. */
export function tuneSchedules(
  teacher: TextToImageModel,
  student: EvalStudent,
  heldOut: EvalSet,
  o: {
    guidance: number;
    batch: number;
    onSampler?: (name: TunedSamplerName, candidates: number) => void;
    /** Only these (default: every tuned sampler). */
    samplers?: readonly TunedSamplerName[];
  },
): Record<TunedSamplerName, TunedSchedule> {
  const out = {} as Record<TunedSamplerName, TunedSchedule>;
  for (const name of o.samplers ?? TUNED_SAMPLERS) {
    const steps = Number(name.split('_')[1]);
    const candidates = scheduleCandidates({ steps, sigmaMax: teacher.edm.sigmaMax, ...SCHEDULE_GRID });
    o.onSampler?.(name, candidates.length);
    const { best, tried } = searchSchedule(candidates, (sigmas) => {
      const r = evaluate(teacher, student, heldOut, {
        guidance: o.guidance,
        batch: o.batch,
        samplers: [name],
        schedules: { [name]: sigmas },
      });
      for (const t of r.images.values()) t.dispose();
      const e = r.eval[name]!;
      return e.named * e.coverage;
    });
    out[name] = { ...best, tried };
  }
  return out;
}

/** The searched schedules as metrics.json records them, each under `key(name)`. */
export function scheduleRecords(
  tuned: Partial<Record<TunedSamplerName, TunedSchedule>>,
  names: readonly TunedSamplerName[],
  key: (name: TunedSamplerName) => string = (n) => n,
): Record<string, { sigmas: number[]; held_out_score: number; tried: ScoredSchedule[] }> {
  return Object.fromEntries(
    names.map((n) => [key(n), { sigmas: tuned[n]!.sigmas, held_out_score: tuned[n]!.score, tried: tuned[n]!.tried }]),
  );
}
