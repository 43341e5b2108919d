// The image's HEALTHCHECK: exits 0 when the admin port's /ready answers 200 within 2 s, 1 otherwise.
// The admin address comes from HYPHA_ACCEL_ADMIN_LISTEN (a wildcard host is probed on loopback).
const listen = process.env.HYPHA_ACCEL_ADMIN_LISTEN ?? '';
if (listen === '') {
  console.error('healthcheck: HYPHA_ACCEL_ADMIN_LISTEN is empty (admin disabled): nothing to probe');
  process.exit(1);
}
const colon = listen.lastIndexOf(':');
let host = listen.slice(0, colon);
const port = listen.slice(colon + 1);
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
if (host === '[::]') host = '[::1]';
try {
  const res = await fetch(`http://${host}:${port}/ready`, { signal: AbortSignal.timeout(2000) });
  console.log(`healthcheck: /ready ${res.status}`);
  process.exit(res.status === 200 ? 0 : 1);
} catch (error) {
  console.error(`healthcheck: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
