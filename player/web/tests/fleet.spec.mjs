// Browser end-to-end test of the web console's fleet view, driven by
// player/tests/web_browser.rs (a real Garage holding generated hosts). Logs
// in, checks the host table, searches across hosts, opens a hit and plays it
// from the store to its end, where the terminal must show LAST_LINE.
//
// Environment: WEB_URL, WEB_USER, WEB_PASSWORD, HOSTS (how many), HOST_Q and
// USER_Q (the search: one session), SINCE, LAST_LINE, SCREENSHOTS, CHROMIUM.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env('WEB_URL');
const shots = env('SCREENSHOTS');
fs.mkdirSync(shots, { recursive: true });
const step = (s) => console.log(`STEP ${s}`);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sshlog-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(e.message));
  // No sshlogd runs beside this console: the live sessions page (where the
  // login lands) answers 503, as it should.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 503/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(base + '/login');
  await page.fill('input[name=user]', env('WEB_USER'));
  await page.fill('input[name=password]', env('WEB_PASSWORD'));
  await Promise.all([page.waitForNavigation(), page.click('#login-form button')]);

  // The hosts, from their host.json.
  await page.goto(base + '/fleet');
  const want = parseInt(env('HOSTS'), 10);
  await page.waitForFunction((n) => document.querySelectorAll('#hosts tr[data-host]').length === n, want);
  step('HOSTS');

  // A search across hosts; the hits name their host.
  const q = new URLSearchParams({ host: env('HOST_Q'), user: env('USER_Q'), since: env('SINCE') });
  await page.goto(`${base}/fleet?${q}`);
  const hit = page.locator('article.hit[data-host]').first();
  await hit.waitFor({ timeout: 30000 });
  const status = await page.textContent('#status');
  if (!/\d+ sessions? found/.test(status)) throw new Error(`search status: ${status}`);
  await page.screenshot({ path: path.join(shots, 'fleet.png') });
  step('FOUND');

  // The first hit played from the store, to its end.
  const href = await hit.locator('h2 a').getAttribute('href');
  await page.goto(base + href);
  await page.waitForFunction(() => window.sshlogPlayer && document.querySelector('.ap-term-text'));
  // The duration is known once the recording is loaded (preload).
  let duration;
  for (const until = Date.now() + 20000; !(duration > 0); await page.waitForTimeout(200)) {
    if (Date.now() > until) throw new Error(`the recording never loaded (duration ${duration})`);
    duration = await page.evaluate(async () => window.sshlogPlayer.getDuration());
  }
  await page.evaluate(async (t) => { await window.sshlogPlayer.seek(t); }, duration);
  const last = env('LAST_LINE');
  const deadline = Date.now() + 20000;
  let text = '';
  for (;;) {
    text = (await page.locator('.ap-term-text').first().textContent().catch(() => '')) || '';
    if (text.includes(last)) break;
    if (Date.now() > deadline) throw new Error(`the player never showed "${last}": ${text.slice(-400)}`);
    await page.waitForTimeout(200);
  }
  await page.screenshot({ path: path.join(shots, 'fleet-recording.png') });
  if (problems.length) throw new Error(`browser errors:\n${problems.join('\n')}`);
  step(`PLAYED ${href}`);
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(0);
} catch (e) {
  console.log(`FAILED ${e.message.split('\n')[0]}`);
  console.error(e.stack || e.message);
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
