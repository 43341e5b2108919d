// The link's deflate stream on either zlib engine: this Node gets the native one; any deflater's stream
// inflates on either engine (a pair may mix them: a Node without the handle falls back to pako); corrupt
// input, a final block and an oversized message fail as StreamDeflateError on both, never as an uncaught
// stream error, and a failed stream stays failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { setImmediate as turn } from 'node:timers/promises';
import { StreamDeflateError, StreamDeflater, StreamInflater, type ZEngine } from '../../src/link/stream-deflate.js';
import { defaultZEngine } from '../../src/link/sync-zstream.js';

const ENGINES: ZEngine[] = ['native', 'pako'];
const PAIRS = ENGINES.flatMap((deflate) => ENGINES.map((inflate) => ({ deflate, inflate })));

test('this Node runs the link deflate on its own zlib', () => {
  assert.equal(defaultZEngine(), 'native');
});

test('property: a message sequence round-trips between any two engines, at any level', () => {
  const message = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 3000 }),
    // Repetitive text: matches reach into earlier messages of the stream.
    fc.array(fc.constantFrom('services.echo', 'ws-user-abc/client', '\x81\xa4args', '\x00\x01'), { maxLength: 200 }).map((parts) => new TextEncoder().encode(parts.join(''))),
  );
  fc.assert(fc.property(fc.constantFrom(...PAIRS), fc.integer({ min: 1, max: 9 }), fc.array(message, { minLength: 1, maxLength: 12 }), ({ deflate, inflate }, level, messages) => {
    const deflater = new StreamDeflater({ level, engine: deflate });
    const inflater = new StreamInflater({ maxMessageBytes: 4096, engine: inflate });
    for (const m of messages) assert.deepEqual(new Uint8Array(inflater.decompress(deflater.compress(m, 1).subarray(1))), m);
  }), { numRuns: 150 });
});

test('the engines agree on the bytes: a repeated message shrinks against the window on both', () => {
  const call = new TextEncoder().encode('{"type":"method","method":"services.echo.echo","args":[1,2,3],"session":"abc"}'.repeat(3));
  for (const engine of ENGINES) {
    const deflater = new StreamDeflater({ level: 6, engine });
    const first = deflater.compress(call).byteLength;
    const second = deflater.compress(call).byteLength;
    assert.ok(second < first / 3, `${engine}: ${second} B the second time, ${first} B the first`);
  }
});

for (const engine of ENGINES) {
  test(`${engine}: corrupt input, a final block and an oversized message are StreamDeflateError, and a failed stream stays failed`, async () => {
    const cases: Array<[string, Uint8Array, number]> = [
      ['invalid block type', Uint8Array.of(0xff, 0xff, 0xff, 0xff), 4096],
      ['a final block', deflateRawSync(Buffer.from('the end')), 4096],
      ['more than the bound', new StreamDeflater({ level: 6, engine }).compress(Buffer.alloc(5000, 7)), 4096],
    ];
    for (const [name, wire, bound] of cases) {
      const inflater = new StreamInflater({ maxMessageBytes: bound, engine });
      assert.throws(() => inflater.decompress(wire), StreamDeflateError, name);
      assert.throws(() => inflater.decompress(new StreamDeflater({ level: 6, engine }).compress(Buffer.from('ok'))), StreamDeflateError, `${name}: used again`);
    }
    // A native stream reports its error as an event a tick later: it must not surface as an uncaught one.
    await turn();
  });

  test(`${engine}: exactly the bound inflates; one byte more does not`, () => {
    for (const [size, fits] of [[4096, true], [4097, false]] as const) {
      const wire = new StreamDeflater({ level: 6, engine }).compress(Buffer.alloc(size, 3));
      const inflater = new StreamInflater({ maxMessageBytes: 4096, engine });
      if (fits) assert.equal(inflater.decompress(wire).byteLength, size);
      else assert.throws(() => inflater.decompress(wire), StreamDeflateError);
    }
  });
}

for (const engine of ENGINES) {
  test(`${engine}: a released stream refuses further work`, () => {
    const deflater = new StreamDeflater({ level: 6, engine });
    const inflater = new StreamInflater({ maxMessageBytes: 4096, engine });
    const wire = deflater.compress(Buffer.from('hello'));
    deflater.release();
    inflater.release();
    assert.throws(() => deflater.compress(Buffer.from('hello')), StreamDeflateError);
    assert.throws(() => inflater.decompress(wire), StreamDeflateError);
  });
}
