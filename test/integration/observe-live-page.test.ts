// The admin port's live page in a real headless Chromium (the system package, driven by playwright-core):
// with a real Python service connected through the pair and a caller's calls, the edge's page shows it
// ready, a live session, the link and the called method among the top methods, refreshing by itself.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { failedChecks, runPyCaller, startPyService, uniqueServiceId, type ServiceProcess } from '../helpers/clients.js';
import { serverUrlFromEnv } from '../helpers/hypha-server.js';
import { writeSecret } from '../helpers/accel-pair.js';
import { startCliRole, type CliRole } from '../helpers/cli-role.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent: install it with scripts/setup-chromium.sh (apt-get install -y chromium)`;

let gateway: CliRole | undefined;
let edge: CliRole | undefined;
let service: ServiceProcess | undefined;
let browser: Browser | undefined;
before(async () => {
  if (skip) return;
  const hyphaUrl = await serverUrlFromEnv();
  const secret = writeSecret();
  gateway = await startCliRole('gateway', ['--hypha-url', hyphaUrl, '--secret-file', secret, '--log-level', 'warn']);
  edge = await startCliRole('edge', ['--gateway-url', gateway.url.replace('http', 'ws'), '--secret-file', secret, '--log-level', 'warn']);
  service = await startPyService(edge.url, uniqueServiceId('live-page'));
  // Never downloads a browser: the system Chromium only.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
after(async () => {
  await browser?.close();
  await service?.stop();
  edge?.child.kill('SIGKILL');
  gateway?.child.kill('SIGKILL');
});

test('the live page shows the edge ready with a live session, its link and the called methods', { skip }, async () => {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const response = await page.goto(`${edge!.adminUrl}/`);
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), 'hypha-accel edge');
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 15_000 });
  // The service's session is live: the sessions figure names it, the link table has the link.
  await page.waitForFunction(() => /edge [1-9]/.test(document.getElementById('sessions')?.textContent ?? ''), undefined, { timeout: 15_000 });
  assert.ok(await page.locator('#links tbody tr').count() >= 1, 'a link row');
  // Calls through the pair appear among the top methods on a later refresh (the page polls every 2 s).
  const result = await runPyCaller(edge!.url, service!.serviceId, { checks: ['echo'] });
  assert.deepEqual(failedChecks(result), []);
  await page.waitForFunction(() => [...document.querySelectorAll('#methods tbody td:first-child')].some((td) => td.textContent?.endsWith('echo')), undefined, { timeout: 15_000 });
  const bytesText = await page.locator('#bytes').innerText();
  assert.match(bytesText, /link bytes sent\s+[1-9]/);
  assert.deepEqual(errors, [], 'no script errors on the page');
});
