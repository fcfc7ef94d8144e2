// Keeps packages/cdistill/bench/reference/microdit_ref.py (the Python baseline of `npm run bench -- microdit`, later
// the GPU baseline) from rotting: on a tiny configuration with every layer non-zero and MoE blocks in
// both the patch-mixer and the backbone, its forward must equal ours within 1e-4 (float32).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';
import { findTorchPython, NO_PYTHON_MESSAGE } from '@cdistill/torch/bench';

import {
  benchCase,
  makeInputs,
  PARITY_TOL,
  randomizeParameters,
  referenceForward,
  relativeError,
  writeCase,
} from '../bench/microdit.js';
import { DiT, parseDitConfig } from '../src/models/microdit/index.js';

test('the Python MicroDiT reference (packages/cdistill/bench/reference/microdit_ref.py) matches our forward within 1e-4', () => {
  const py = findTorchPython();
  assert.ok(py, NO_PYTHON_MESSAGE);
  const bc = benchCase('tiny');
  const dir = mkdtempSync(join(tmpdir(), 'microdit-ref-test-'));
  try {
    torch.tidy(() => {
      const gen = new torch.Generator(7);
      const model = new DiT(parseDitConfig(bc.dit, 'tiny preset'), { generator: gen });
      randomizeParameters(model, gen);
      const inputs = makeInputs(bc, gen);
      const files = writeCase(dir, bc, model, inputs);
      const ours = torch.noGrad(() => model.forward(inputs.x, inputs.t, inputs.y).sample);
      const ref = referenceForward(py, files, { threads: 1 });
      assert.deepEqual(ref.shape, ours.shape);
      assert.ok(ours.norm().item() > 0.1, 'the randomized model must not output (near) zeros');
      const err = relativeError(ours, ref);
      assert.ok(err <= PARITY_TOL, `relative L2 error ${err} > ${PARITY_TOL}`);
      model.dispose();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
