// Keeps docs/errors.md and the registry (src/errors.ts) in step: every code is documented with the same
// GOAWAY / close / HTTP numbers, no unknown code is documented, and the registry itself is consistent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AccelError, ERROR_CODES, errorCodeForGoaway, type ErrorCode } from '../src/errors.js';

const docPath = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
const doc = readFileSync(docPath, 'utf8');
const registry = Object.keys(ERROR_CODES) as ErrorCode[];

interface DocRow {
  goaway: number;
  wsClose: number;
  httpStatus: number;
  meaning: string;
  action: string;
}

function tableRows(): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of doc.split('\n')) {
    const match = /^\|\s*`(HYPHA_ACCEL_ERR_\w+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!match) continue;
    const cells = match[2]!.split('|').map((c) => c.trim());
    assert.equal(cells.length, 5, `docs/errors.md row for ${match[1]} must have 6 columns`);
    assert.ok(!rows.has(match[1]!), `docs/errors.md lists ${match[1]} twice`);
    rows.set(match[1]!, { goaway: Number(cells[0]), wsClose: Number(cells[1]), httpStatus: Number(cells[2]), meaning: cells[3]!, action: cells[4]! });
  }
  return rows;
}

test('docs/errors.md has a row for every code in ERROR_CODES', () => {
  const rows = tableRows();
  const missing = registry.filter((code) => !rows.has(code));
  assert.deepEqual(missing, [], `codes without a row in docs/errors.md: ${missing.join(', ')}`);
});

test('docs/errors.md documents no code the registry does not know (in the table or anywhere in the text)', () => {
  const known = new Set<string>(registry);
  const unknownRows = [...tableRows().keys()].filter((code) => !known.has(code));
  assert.deepEqual(unknownRows, [], `rows for unknown codes: ${unknownRows.join(', ')}`);
  const mentioned = new Set(doc.match(/HYPHA_ACCEL_ERR_\w+/g) ?? []);
  const unknownMentions = [...mentioned].filter((code) => !known.has(code));
  assert.deepEqual(unknownMentions, [], `unknown codes mentioned: ${unknownMentions.join(', ')}`);
});

test('docs/errors.md gives the same goaway, wsClose and httpStatus as the registry, a meaning and an action', () => {
  const rows = tableRows();
  for (const code of registry) {
    const row = rows.get(code);
    if (!row) continue; // reported by the first test
    const spec = ERROR_CODES[code];
    assert.deepEqual([row.goaway, row.wsClose, row.httpStatus], [spec.goaway, spec.wsClose, spec.httpStatus], `numbers for ${code}`);
    assert.ok(row.meaning.length > 20, `${code} needs a meaning`);
    assert.ok(row.action.length > 20, `${code} needs an operator action`);
  }
});

test('registry: codes are namespaced, GOAWAY numbers are unique and map back, close codes are in range', () => {
  const goaways = new Map<number, ErrorCode>();
  for (const code of registry) {
    const spec: { goaway: number; wsClose: number; httpStatus: number; description: string } = ERROR_CODES[code];
    assert.match(code, /^HYPHA_ACCEL_ERR_[A-Z_]+$/);
    assert.ok(spec.description.length > 10, `${code} has a description`);
    assert.ok(Number.isInteger(spec.goaway) && spec.goaway >= 0 && spec.goaway <= 0xffff, `${code} goaway fits the u16 of a GOAWAY`);
    if (spec.goaway !== 0) {
      assert.ok(!goaways.has(spec.goaway), `goaway ${spec.goaway} used by ${goaways.get(spec.goaway)} and ${code}`);
      goaways.set(spec.goaway, code);
      assert.equal(errorCodeForGoaway(spec.goaway), code);
      assert.ok(spec.wsClose !== 0, `${code} ends links, so it needs a link close code`);
    }
    assert.ok(spec.wsClose === 0 || (spec.wsClose >= 1000 && spec.wsClose <= 4999 && ![1004, 1005, 1006, 1015].includes(spec.wsClose)), `${code} wsClose ${spec.wsClose} is sendable`);
    assert.ok(spec.httpStatus === 0 || (spec.httpStatus >= 400 && spec.httpStatus <= 599), `${code} httpStatus`);
  }
  assert.equal(errorCodeForGoaway(0), undefined);
  assert.equal(errorCodeForGoaway(0xfff0), undefined);
});

test('AccelError carries its code and spec', () => {
  const cause = new Error('root');
  const error = new AccelError('HYPHA_ACCEL_ERR_AUTH', 'nope', { cause });
  assert.ok(error instanceof Error, 'error instanceof Error');
  assert.equal(error.name, 'AccelError');
  assert.equal(error.code, 'HYPHA_ACCEL_ERR_AUTH');
  assert.equal(error.spec, ERROR_CODES.HYPHA_ACCEL_ERR_AUTH);
  assert.equal(error.cause, cause);
});
