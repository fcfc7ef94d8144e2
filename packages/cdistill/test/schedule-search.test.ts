// The few-step schedule search: the candidate family and the choice of the best.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { scheduleCandidates, searchSchedule } from '../src/sampling/schedule-search.js';

test('schedule candidates: σ_max, then log-uniform levels from σ₁ to σ_last; pairs with σ_last ≥ σ₁ left out', () => {
  assert.deepEqual(scheduleCandidates({ steps: 1, sigmaMax: 80, first: [10], last: [1] }), [[80]]);
  assert.deepEqual(scheduleCandidates({ steps: 2, sigmaMax: 80, first: [10, 2], last: [1] }), [
    [80, 10],
    [80, 2],
  ]);
  const four = scheduleCandidates({ steps: 4, sigmaMax: 80, first: [10, 1], last: [1, 0.1] });
  // (10, 1) and (10, 0.1) and (1, 0.1); (1, 1) is not descending.
  assert.equal(four.length, 3);
  const [a, b, c] = four as [number[], number[], number[]];
  assert.deepEqual(
    a.map((x) => +x.toPrecision(12)),
    [80, 10, 3.16227766017, 1],
  );
  assert.deepEqual(
    b.map((x) => +x.toPrecision(12)),
    [80, 10, 1, 0.1],
  );
  assert.deepEqual(
    c.map((x) => +x.toPrecision(12)),
    [80, 1, 0.316227766017, 0.1],
  );
  assert.throws(
    () => scheduleCandidates({ steps: 4, sigmaMax: 80, first: [80], last: [1] }),
    /scheduleCandidates: every level must lie in \(0, σ_max = 80\), got 80/,
  );
  assert.throws(
    () => scheduleCandidates({ steps: 0, sigmaMax: 80, first: [], last: [] }),
    /steps must be a positive integer, got 0/,
  );
});

test('searchSchedule keeps the best score, the first of equals, and reports every candidate', () => {
  const cands = [
    [80, 10],
    [80, 5],
    [80, 2],
    [80, 1],
  ];
  const score = (s: number[]) => -Math.abs(Math.log(s[1]! / 4)); // peaks at σ₁ = 4: 5 and 2 are closest
  const r = searchSchedule(cands, score);
  assert.deepEqual(r.best.sigmas, [80, 5]);
  assert.deepEqual(
    r.tried.map((t) => t.sigmas[1]),
    [10, 5, 2, 1],
  );
  const tie = searchSchedule(cands, () => 0.5);
  assert.deepEqual(tie.best, { sigmas: [80, 10], score: 0.5 });
  assert.throws(() => searchSchedule([], score), /searchSchedule: no candidate schedules/);
  assert.throws(() => searchSchedule(cands, () => Number.NaN), /the score of \[80, 10\] is NaN/);
});
