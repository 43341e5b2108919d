// Redaction of what the roles log: credential fields and headers at any depth, tokens in URLs, bearer
// values and JWTs inside free strings; names and paths stay readable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactFields, redactString, redactTarget } from '../../src/net/redact.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cy11c2VyLTEyMyJ9.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw';

test('query tokens, auth schemes and JWTs are cut from strings', () => {
  assert.equal(redactString('GET /ws?client_id=a&token=abc123&reconnection_token=r1'), 'GET /ws?client_id=a&token=...&reconnection_token=...');
  assert.equal(redactString('wss://h/x?access_token=zz#f'), 'wss://h/x?access_token=...#f');
  assert.equal(redactString('header Authorization: Bearer abc.def-ghi'), 'header Authorization: Bearer [redacted]');
  assert.equal(redactString(`token ${JWT} here`), 'token [redacted-jwt] here');
  assert.equal(redactString('hypha at https://user:pw@h.example/x'), 'hypha at https://[redacted]@h.example/x');
  assert.equal(redactTarget('/ws?token=abc&x=1'), '/ws?token=...&x=...');
});

test('credential fields are redacted at any depth; the rest is kept', () => {
  const error = new Error(`Unexpected server response at ws://h/ws?token=${JWT}`);
  const out = redactFields({
    req: { url: '/a?token=t0&y=2', headers: { authorization: 'Bearer t1', Cookie: 'sid=t2', 'set-cookie': ['a=t3'], host: 'h' } },
    token: 't4', nested: [{ reconnection_token: 't5' }], err: error, sessionId: 's1',
  });
  const text = JSON.stringify(out);
  for (const secret of ['t0', 't1', 't2', 't3', 't4', 't5', JWT]) assert.ok(!text.includes(`${secret}"`) && !text.includes(`=${secret}`) && !text.includes(JWT), `${secret} in ${text}`);
  assert.equal(out.req.headers.host, 'h');
  assert.equal(out.sessionId, 's1');
  assert.equal(out.req.url, '/a?token=...&y=2');
  assert.match(JSON.stringify(out.err), /Unexpected server response at ws:\/\/h\/ws\?token=\.\.\./);
});
