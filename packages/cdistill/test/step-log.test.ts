// A resumed run cuts its JSON-lines log back to its checkpoint's step; a line torn by a kill mid-write
// must not stop the resume.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { truncateStepLog } from '../src/util/fs.js';

test('truncateStepLog keeps steps up to the checkpoint and drops a torn last line', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'cdistill-log-')), 'log.jsonl');
  writeFileSync(path, '{"step":1,"loss":0.5}\n{"step":2,"loss":0.4}\n\n{"step":3,"loss":0.3}\n{"step":4,"lo');
  truncateStepLog(path, 2);
  assert.equal(readFileSync(path, 'utf8'), '{"step":1,"loss":0.5}\n{"step":2,"loss":0.4}\n');
  truncateStepLog(path, 0);
  assert.equal(readFileSync(path, 'utf8'), '');
  truncateStepLog(join(path, '..', 'absent.jsonl'), 3); // no file: nothing to do, no error
});
