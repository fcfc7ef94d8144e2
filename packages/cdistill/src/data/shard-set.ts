// Whether a set of `generate --shard i/n` outputs is complete and consistent before anything trains on
// it: one folder holding every shard, or one folder per shard (machines that each made a part). The
// shards a folder holds are named by its captions-shard-I-of-N.json files (captions.json: the one
// shard of an unsharded run); what it holds is what its latents shards index (the record of done work).
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { z } from 'zod';

import { readJsonWith } from '../util/json.js';
import { imageName, scanLatentShards } from './teacher-dataset.js';

const PlanSchema = z.object({ prompts: z.number().int().nonnegative() }).passthrough();
const MAX_LISTED = 5;

export interface ShardSet {
  /** Prompts in the plan (generate.json), every one of which has its image. */
  prompts: number;
  /** Shards the plan was split into. */
  count: number;
  folders: string[];
}

const MAX_PROBLEMS = 20;
/** The problems, one a line; a folder copied twice would list every image, so the list is cut short. */
const report = (problems: string[]) =>
  [
    ...problems.slice(0, MAX_PROBLEMS),
    ...(problems.length > MAX_PROBLEMS ? [`… and ${problems.length - MAX_PROBLEMS} more`] : []),
  ].join('\n');

const list = (xs: number[]) =>
  `${xs.slice(0, MAX_LISTED).map(imageName).join(', ')}${xs.length > MAX_LISTED ? ', …' : ''}`;

/**
 * Checks the folders as one shard set; throws one error listing every problem found (each naming the
 * folder or file, the shard and the indices), or returns what the set holds.
 */
export function checkShardSet(given: string[]): ShardSet {
  if (given.length === 0) throw new Error('no folder given');
  // A folder named twice (./data and data) is one folder, not an overlap.
  const folders = given.filter((d, k) => given.findIndex((e) => resolve(e) === resolve(d)) === k);
  const problems: string[] = [];
  // 1. One plan: every folder's generate.json says the same.
  const plans = folders.map((dir) => {
    const file = join(dir, 'generate.json');
    if (!existsSync(file)) {
      problems.push(`${dir}: no generate.json (not a folder written by cdistill generate)`);
      return undefined;
    }
    return readJsonWith(PlanSchema, file, 'generate settings') as Record<string, unknown> & { prompts: number };
  });
  const firstAt = plans.findIndex((p) => p !== undefined);
  if (firstAt < 0) throw new Error(problems.join('\n'));
  const plan = plans[firstAt]!;
  folders.forEach((dir, k) => {
    const p = plans[k];
    if (!p || k === firstAt) return;
    const keys = [...new Set([...Object.keys(plan), ...Object.keys(p)])];
    const diff = keys.filter((key) => JSON.stringify(plan[key]) !== JSON.stringify(p[key]));
    if (diff.length)
      problems.push(
        `${join(dir, 'generate.json')}: other settings than ${join(folders[firstAt]!, 'generate.json')} (${diff.map((key) => `${key}: ${JSON.stringify(plan[key])} → ${JSON.stringify(p[key])}`).join(', ')})`,
      );
  });
  // 2. One split, every shard of it in exactly one folder.
  const claims = folders.map((dir) =>
    (existsSync(dir) ? readdirSync(dir) : []).flatMap((f) => {
      if (f === 'captions.json') return [{ file: join(dir, f), index: 0, count: 1 }];
      const m = /^captions-shard-(\d+)-of-(\d+)\.json$/.exec(f);
      return m ? [{ file: join(dir, f), index: Number(m[1]), count: Number(m[2]) }] : [];
    }),
  );
  const all = claims.flat();
  if (all.length === 0) throw new Error([...problems, `no captions file in ${folders.join(', ')}`].join('\n'));
  const count = all[0]!.count;
  for (const c of all)
    if (c.count !== count)
      problems.push(`${c.file}: a split into ${c.count} shards, but ${all[0]!.file} is of ${count}`);
  if (problems.length) throw new Error(problems.join('\n'));
  const owner = new Map<number, string>();
  for (let s = 0; s < count; s++) {
    const holders = folders.filter((_, k) => claims[k]!.some((c) => c.index === s));
    if (holders.length === 0)
      problems.push(
        `shard ${s}/${count}: missing (no ${count === 1 ? 'captions.json' : `captions-shard-${s}-of-${count}.json`} in ${folders.join(', ')})`,
      );
    else if (holders.length > 1) problems.push(`shard ${s}/${count}: in more than one folder (${holders.join(', ')})`);
    else owner.set(s, holders[0]!);
  }
  // 3. Every index of the plan done once, in the folder that holds its shard.
  const seen = new Map<number, string>();
  folders.forEach((dir) => {
    for (const [i, r] of scanLatentShards(dir)) {
      if (i >= plan.prompts) problems.push(`${r.file}: index ${i} is beyond the plan's ${plan.prompts} prompts`);
      else if (owner.get(i % count) !== dir && owner.has(i % count))
        problems.push(
          `${r.file}: holds ${imageName(i)} of shard ${i % count}/${count}, which is ${owner.get(i % count)}'s`,
        );
      if (seen.has(i)) problems.push(`${imageName(i)}: in both ${seen.get(i)} and ${dir}`);
      seen.set(i, dir);
    }
  });
  for (const [s, dir] of owner) {
    const missing: number[] = [];
    for (let i = s; i < plan.prompts; i += count) if (!seen.has(i)) missing.push(i);
    if (missing.length)
      problems.push(
        `shard ${s}/${count} in ${dir}: ${missing.length} of ${Math.ceil((plan.prompts - s) / count)} images not made (${list(missing)}); run cdistill generate --shard ${s}/${count} --out ${dir} again to finish it`,
      );
  }
  if (problems.length) throw new Error(report(problems));
  return { prompts: plan.prompts, count, folders };
}
