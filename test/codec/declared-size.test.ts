// The link codec refuses a transcoded message whose declared size exceeds what one frame can carry
// (maxFrameBytes), before allocating it: a peer cannot make the decoder reserve maxMessageBytes per frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { loadConfig } from '../../src/config/load.js';
import { CODEC_CAPABILITY, linkCodecFactory } from '../../src/roles/link-setup.js';

test('a declared size above maxFrameBytes is a CODEC_LIMIT error, not an allocation', () => {
  const config = loadConfig('gateway', { flags: { listen: '127.0.0.1:0', hyphaUrl: 'http://127.0.0.1:1', secretFile: 'unused', maxFrameBytes: 65536 }, env: {} });
  const roomy = linkCodecFactory({ ...config, maxFrameBytes: 16 * 1024 * 1024 }, [CODEC_CAPABILITY])!();
  const strict = linkCodecFactory(config, [CODEC_CAPABILITY])!();
  const message = encode({ type: 'method', to: 'ws/x', method: 'services.a.b', data: new Uint8Array(300_000).fill(7) });
  const compact = roomy.encode(message, false);
  assert.ok(compact, 'the roomy side transcodes it');
  assert.throws(() => strict.decode(compact!, false), (error: Error & { code?: string }) => error.code === 'HYPHA_ACCEL_ERR_CODEC_LIMIT');
  const small = encode({ type: 'method', to: 'ws/x', method: 'services.a.b', args: [1, 2, 3] });
  const fresh = linkCodecFactory(config, [CODEC_CAPABILITY]);
  assert.ok(Buffer.from(fresh!().decode(linkCodecFactory(config, [CODEC_CAPABILITY])!().encode(small, false)!, false)).equals(Buffer.from(small)));
});
