// Browser end-to-end test of `sshlog web`, driven by player/tests/web_browser.rs,
// which runs the real sshlogd, sshd and `sshlog web` and types into a real SSH
// session. The two sides talk in lines: this script prints `STEP ...` lines on
// stdout and waits for lines on stdin.
//
// Environment: WEB_URL, WEB_USER, WEB_PASSWORD, SSH_USER (the harness user),
// TAG (random word typed in the session), SCREENSHOTS (directory),
// CHROMIUM (default /usr/bin/chromium). Uses Debian's chromium through
// playwright-core; never downloads a browser.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const base = env('WEB_URL');
const sshUser = env('SSH_USER');
const tag = env('TAG');
const shots = env('SCREENSHOTS');
fs.mkdirSync(shots, { recursive: true });

const input = readline.createInterface({ input: process.stdin });
const lines = [];
let waiter = null;
input.on('line', (l) => { lines.push(l.trim()); if (waiter) waiter(); });
async function expectLine(word, ms = 120000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = lines.findIndex((l) => l.startsWith(word));
    if (i >= 0) return lines.splice(i, 1)[0];
    if (Date.now() > deadline) throw new Error(`no "${word}" from the test within ${ms} ms`);
    await new Promise((r) => { waiter = r; setTimeout(r, 200); });
  }
}
const step = (s) => console.log(`STEP ${s}`);
const log = (s) => console.error(`[console.spec] ${s}`);

async function termText(page) {
  return (await page.locator('.ap-term-text').first().textContent().catch(() => '')) || '';
}
async function waitTerm(page, text, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const t = await termText(page);
    if (t.includes(text)) return t;
    if (Date.now() > deadline) throw new Error(`terminal never showed "${text}"; it shows: ${t.trim().replace(/\s+/g, ' ')}`);
    await page.waitForTimeout(100);
  }
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sshlog-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
function watch(page, name) {
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 503/.test(m.text())) problems.push(`${name}: console: ${m.text()}`);
  });
}

try {
  const page = await context.newPage();
  watch(page, 'main');

  // Login page; a wrong password is refused, the right one lands on /.
  await page.goto(base + '/');
  if (!page.url().endsWith('/login')) throw new Error(`not sent to /login: ${page.url()}`);
  await page.screenshot({ path: path.join(shots, 'login.png') });
  await page.fill('input[name=user]', env('WEB_USER'));
  await page.fill('input[name=password]', 'not the password');
  await Promise.all([page.waitForNavigation(), page.click('#login-form button')]);
  if (!(await page.textContent('.error')).includes('Wrong')) throw new Error('no error after a wrong password');
  await page.fill('input[name=user]', env('WEB_USER'));
  await page.fill('input[name=password]', env('WEB_PASSWORD'));
  await Promise.all([page.waitForNavigation(), page.click('#login-form button')]);
  if (new URL(page.url()).pathname !== '/') throw new Error(`login did not land on /: ${page.url()}`);
  // The refused login's 401 page is logged as an error by the browser: expected.
  problems.length = 0;

  // A second tab collects live events meanwhile.
  const events = await context.newPage();
  watch(events, 'events');
  await events.goto(base + '/events');
  await events.waitForFunction(() => document.getElementById('status').textContent.startsWith('Connected'));

  // The session started by the test appears in the live table.
  step('READY');
  const row = page.locator(`#sessions tbody tr[data-user="${sshUser}"]`);
  await row.first().waitFor({ timeout: 30000 });
  const id = await row.first().getAttribute('data-session-id');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`bad session id in the table: ${id}`);
  await page.screenshot({ path: path.join(shots, 'sessions.png') });
  step(`SEEN ${id}`);

  // Live follow: the screen so far, then what is typed now.
  await expectLine('TYPED-EARLY');
  await page.goto(`${base}/live/${id}`);
  await waitTerm(page, `early-${tag}-42`);
  step('LIVE-OPEN');
  await expectLine('TYPED-LIVE');
  await waitTerm(page, `live-${tag}-42`);
  await page.screenshot({ path: path.join(shots, 'live.png') });
  step('LIVE-SEEN');

  // The finished recording: click a command in the timeline, its output shows.
  await expectLine('FINISHED');
  await page.waitForTimeout(1000);
  await events.screenshot({ path: path.join(shots, 'events.png') });
  const evText = await events.textContent('#events');
  if (!evText.includes(`beta-${tag}-42`)) throw new Error(`the events page missed the command: ${evText.slice(0, 500)}`);

  await page.goto(`${base}/sessions/${id}`);
  // The page header names the user and the session's terminal.
  await page.waitForFunction(() => document.getElementById('meta').textContent.includes(' on '));
  const meta = await page.textContent('#meta');
  if (!meta.startsWith(`${sshUser} from 127.0.0.1:`) || !/ on \/dev\/pts\/\d+ /.test(meta)) {
    throw new Error(`recording page header: ${meta}`);
  }
  const beta = page.locator('#timeline button', { hasText: `beta-${tag}-42` });
  await beta.waitFor({ timeout: 20000 });
  await page.waitForFunction(() => window.sshlogPlayer && document.querySelector('.ap-term-text'));
  await page.waitForTimeout(500);
  const before = await termText(page);
  if (before.includes(`beta-${tag}-42`)) throw new Error('the output shows before seeking');
  const offset = parseFloat(await beta.getAttribute('data-offset'));
  await beta.click();
  const shown = await waitTerm(page, `beta-${tag}-42`, 8000);
  if (shown.includes(`alpha-${tag}`)) throw new Error('seek did not skip the screen cleared before the command');
  const now = await page.evaluate(() => window.sshlogPlayer.getCurrentTime());
  if (!(now >= offset)) throw new Error(`player at ${now}s, before the command at ${offset}s`);
  await page.evaluate(() => window.sshlogPlayer.pause());
  await page.screenshot({ path: path.join(shots, 'recording.png') });

  // Search by output, then arrive on the recording with the hit marked.
  await page.goto(`${base}/search?output=${encodeURIComponent(`beta-${tag}-42`)}`);
  const hit = page.locator(`article.hit[data-session-id="${id}"]`);
  await hit.waitFor({ timeout: 30000 });
  await page.screenshot({ path: path.join(shots, 'search.png') });
  await Promise.all([page.waitForNavigation(), hit.locator('.out-hits a').first().click()]);
  await page.locator('#hits li.hit').first().waitFor({ timeout: 20000 });
  await page.waitForFunction(() => window.sshlogPlayer && document.querySelector('.ap-term-text'));
  await page.waitForTimeout(1000);
  await page.screenshot({ path: path.join(shots, 'recording-search-hit.png') });

  // Logging out ends the session.
  await Promise.all([page.waitForNavigation(), page.click('form.logout button')]);
  if (!page.url().endsWith('/login')) throw new Error(`logout did not land on /login: ${page.url()}`);

  if (problems.length) throw new Error(`browser errors:\n${problems.join('\n')}`);
  step('DONE');
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(0);
} catch (e) {
  console.log(`FAILED ${e.message.split('\n')[0]}`);
  console.error(e.stack || e.message);
  if (problems.length) console.error(problems.join('\n'));
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
