// JSON files checked by a zod schema: one error per problem, each naming the file and the key.
import { existsSync, readFileSync } from 'node:fs';

import type { z } from 'zod';

export function formatIssues(source: string, error: z.ZodError): string {
  return error.issues.map((i) => `${source}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

export function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) throw new Error(`${path}: no such ${what}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, source: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(formatIssues(source, parsed.error));
  return parsed.data;
}

export function readJsonWith<S extends z.ZodTypeAny>(schema: S, path: string, what: string): z.infer<S> {
  return parseWith(schema, readJson(path, what), path);
}
