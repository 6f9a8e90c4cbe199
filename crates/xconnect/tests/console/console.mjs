// Drives the xconnect console in Debian's Chromium with Playwright, against a real server that
// crates/xconnect/tests/console.rs started (it passes the endpoint and the accounts' keys in the
// environment). Each step is asserted; a screenshot of each is saved in XC_SHOTS. Any console
// error or uncaught exception on a page fails the run.

import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { env, expectRefusals as refusals, launch } from './browser.mjs';
const endpoint = env('XC_ENDPOINT');
const shots = env('XC_SHOTS');
fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
const A = { key: env('XC_A_KEY'), secret: env('XC_A_SECRET') };
const B = { key: env('XC_B_KEY'), secret: env('XC_B_SECRET'), account: env('XC_B_ACCOUNT') };
const RO = { key: env('XC_RO_KEY'), secret: env('XC_RO_SECRET') };
const lumen = env('XC_LUMEN_ACCOUNT');
const OP = { key: env('XC_OP_KEY'), secret: env('XC_OP_SECRET') };

const browser = await launch();
const errors = [];
let shot = 0;

// Runs `f`, which provokes refused requests on purpose (see browser.mjs).
const expectRefusals = (f) => refusals(errors, f);

async function newPage(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: endpoint });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The wizard checks each step with a dry run, which answers what creating would: an error
    // status (400) for a request not complete yet. Those are the wizard working, not failures.
    const refusedDryRun = /Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
      && /[?&]dryRun=true/.test(m.location().url ?? '');
    if (!refusedDryRun) errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(shots, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function signIn(page, who) {
  await page.goto(`${endpoint}/console/`);
  await page.getByLabel('Access key ID').fill(who.key);
  await page.getByLabel('Secret access key').fill(who.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to xconnect' }).waitFor();
}

async function createAttachPoint(page, name, prefixes, asn) {
  await page.getByRole('link', { name: 'Attach points' }).click();
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Prefixes comma-separated').fill(prefixes);
  if (asn) await page.getByLabel(/^ASN/).fill(asn);
  await page.getByRole('button', { name: 'Create the attach point' }).click();
  await page.getByRole('cell', { name, exact: true }).waitFor();
}

// Presses Tab until the element matching `selector` has the focus (at most 60 times; none if it
// has it already); checks that it shows where the focus is; returns how many presses it took.
async function tabTo(page, selector) {
  for (let n = 0; n <= 60; n += 1) {
    if (n > 0) await page.keyboard.press('Tab');
    const focused = await page.evaluate((sel) => {
      const el = document.activeElement;
      if (!el || !el.matches(sel)) return null;
      const st = getComputedStyle(el);
      return { outline: st.outlineStyle !== 'none' && st.outlineWidth !== '0px' };
    }, selector);
    if (focused) {
      assert.ok(focused.outline, `${selector} shows no focus outline`);
      return n;
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}

const field = (page, label) => page.getByLabel(label, { exact: false });
const errorOf = (page, id) => page.locator(`#${id}-error`);

// --- the page itself: security headers, a wrong secret, sign-in, the session cookie ---------------
{
  const page = await newPage();
  const resp = await page.goto(`${endpoint}/console/`);
  const h = resp.headers();
  assert.match(h['content-security-policy'], /script-src 'self'/);
  assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['cache-control'], 'no-cache');
  await page.getByLabel('Access key ID').fill(A.key);
  await page.getByLabel('Secret access key').fill('wrong-secret');
  await expectRefusals(async () => {
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('unknown access key or wrong secret').waitFor();
  });
  await snap(page, 'sign-in-refused');
  await page.getByLabel('Secret access key').fill(A.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
  assert.equal(await page.evaluate(() => document.cookie.includes('xc_session')), false, 'the session cookie is HttpOnly');
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === 'xc_session');
  assert.ok(c && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(cookies));
  // A change without the CSRF token is refused, even with the cookie.
  await expectRefusals(async () => {
    const forged = await page.evaluate(async () => (await fetch('/v1/attach-points', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"x","prefixes":["10.9.0.0/16"]}',
    })).status);
    assert.equal(forged, 403);
  });
  await snap(page, 'connections-empty');

  // --- the multicloud wizard, with validation as you type, to an activation key ----------------
  await createAttachPoint(page, 'aws-vpc', '10.0.0.0/16', '65100');
  await page.getByRole('link', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Create a connection' }).waitFor();
  await page.getByLabel(/Multicloud/).check();
  await snap(page, 'wizard-1-capability');
  await page.getByRole('button', { name: 'Next' }).click();
  await field(page, 'Description').fill('console test');
  const envSelect = page.locator('#w-env');
  // An unavailable environment is listed, disabled, with its reason.
  const unavailable = envSelect.locator('option[disabled]');
  assert.ok(await unavailable.count() >= 1, 'an unavailable environment is shown disabled');
  await envSelect.selectOption('gcp-us-east4');
  await page.locator('#w-bw').selectOption('1Gbps');
  await page.locator('#w-ap').selectOption({ label: 'aws-vpc (10.0.0.0/16)' });
  await field(page, 'Description').fill('bad: description');
  await errorOf(page, 'w-desc').filter({ hasText: 'letters, digits' }).waitFor();
  assert.equal(await page.locator('#w-desc').getAttribute('aria-invalid'), 'true');
  await snap(page, 'wizard-2-validation');
  await field(page, 'Description').fill('console test');
  await page.waitForFunction(() => !document.querySelector('#w-desc-error').textContent);
  await snap(page, 'wizard-2-details');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/Remote account/).fill('123');
  await errorOf(page, 'w-remote').filter({ hasText: '12-digit' }).waitFor();
  await page.getByLabel(/Remote account/).fill(B.account);
  await page.waitForFunction(() => !document.querySelector('#w-remote-error').textContent);
  await page.getByText('MACsec GCM-AES-XPN-256').first().waitFor();
  await snap(page, 'wizard-3-multicloud');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#review').waitFor();
  assert.match(await page.locator('#price').textContent(), /per hour/);
  // The cost a month against a VPN and public transfer, for the GB given.
  await page.locator('#compare', { hasText: /with 1000 GB: \$[\d,.]+ here; \$[\d,.]+ over AWS Site-to-Site VPN/ }).waitFor();
  await page.getByLabel('GB sent a month').fill('5000');
  await page.locator('#compare', { hasText: 'with 5000 GB' }).waitFor();
  await snap(page, 'wizard-4-review');
  await page.getByRole('button', { name: 'Back' }).click();
  await page.getByLabel(/Remote account/).waitFor();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Create' }).click();
  const keyBox = page.locator('#activation-key');
  await keyBox.waitFor();
  const key = (await keyBox.textContent()).trim();
  assert.match(key, /^xcak1\./);
  await page.getByRole('button', { name: 'Copy the key' }).click();
  await page.getByText('Activation key copied').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  await snap(page, 'wizard-5-activation-key');
  const connId = (await page.getByRole('heading', { level: 2 }).first().textContent()).split(' ')[0];
  assert.match(connId, /^mcc-/);
  await signOut(page);

  // --- the other side accepts ---------------------------------------------------------------
  await signIn(page, B);
  await createAttachPoint(page, 'gcp-vpc', '10.1.0.0/16');
  await createAttachPoint(page, 'clash-vpc', '10.2.0.0/16', '65100');
  await page.getByRole('link', { name: 'Accept' }).click();
  await expectRefusals(async () => {
    await page.getByLabel(/Activation key/).fill('xcak1.not-a-key');
    await page.locator('#a-key-error').filter({ hasText: /./ }).waitFor();
  });
  await snap(page, 'accept-bad-key');
  await page.getByLabel(/Activation key/).fill(key);
  await page.locator('#proposal-facts').waitFor();
  const facts = await page.locator('#proposal-facts').textContent();
  assert.match(facts, /Google Cloud/);
  assert.match(facts, /1Gbps/);
  assert.match(facts, /Their ASN\s*65100/);
  // An attach point with the other side's ASN is refused before anything is sent.
  const option = async (name) => page.locator('#a-ap option', { hasText: name }).getAttribute('value');
  await page.locator('#a-ap').selectOption(await option('clash-vpc'));
  await page.locator('#a-ap-error').filter({ hasText: 'same as the other side' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Accept' }).isDisabled());
  await snap(page, 'accept-asn-clash');
  await page.locator('#a-ap').selectOption(await option('gcp-vpc'));
  await page.waitForFunction(() => !document.querySelector('#a-ap-error').textContent);
  await snap(page, 'accept-proposal');
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.getByRole('heading', { name: connId }).waitFor();
  await page.locator('.badge', { hasText: 'pending' }).first().waitFor();
  await snap(page, 'connection-pending');
  // Its history: created by the owner, accepted by this side.
  const timeline = await page.locator('#timeline').textContent();
  assert.ok(/Created by/.test(timeline) && /Accepted by/.test(timeline), timeline);
  // The same key again: used, and said so.
  await page.getByRole('link', { name: 'Accept' }).click();
  await expectRefusals(async () => {
    await page.getByLabel(/Activation key/).fill(key);
    await page.locator('#a-key-error').filter({ hasText: 'already been used' }).waitFor();
  });
  // The list shows it, with its badge; the filter finds it.
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.getByLabel('Search').fill(connId.slice(0, 8));
  await page.getByRole('link', { name: connId }).waitFor();
  await page.getByLabel('State').selectOption('available');
  await page.getByText('No connections match').waitFor();
  await signOut(page);

  // --- a last-mile creation, with validation of the site ------------------------------------
  await signIn(page, A);
  // Attach points: edit the prefixes of one; a bad prefix is refused with the reason, nothing saved.
  await createAttachPoint(page, 'spare', '10.60.0.0/16');
  const spare = page.locator('tr', { hasText: 'spare' });
  await spare.getByLabel('Prefixes of spare').fill('10.60.0.1/16');
  await expectRefusals(async () => {
    await spare.getByRole('button', { name: 'Save prefixes' }).click();
    await spare.getByRole('alert').filter({ hasText: 'host bits' }).waitFor();
  });
  await spare.getByLabel('Prefixes of spare').fill('10.60.0.0/16, 10.61.0.0/16');
  await spare.getByRole('button', { name: 'Save prefixes' }).click();
  await page.getByText('Prefixes saved').waitFor();
  await page.reload();
  assert.equal(await page.locator('tr', { hasText: 'spare' }).getByLabel('Prefixes of spare').inputValue(), '10.60.0.0/16, 10.61.0.0/16');
  await snap(page, 'attach-points');
  await page.getByRole('link', { name: 'Create' }).click();
  await page.getByLabel(/Last mile/).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#w-env').selectOption('lumen-chicago');
  await page.locator('#w-bw').selectOption('1Gbps');
  await page.locator('#w-ap').selectOption({ label: 'aws-vpc (10.0.0.0/16)' });
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/Provider's account/).fill(lumen);
  await page.getByLabel(/Circuit id/).fill('LUMEN-CHI-0042');
  await page.getByLabel(/On-premises prefixes/).fill('10.50.0.1/24');
  await page.getByLabel(/router's ASN/).fill('65010');
  await errorOf(page, 'w-onprem').filter({ hasText: 'host bits' }).waitFor();
  await snap(page, 'wizard-lastmile-validation');
  await page.getByLabel(/On-premises prefixes/).fill('10.50.0.0/24');
  await page.waitForFunction(() => !document.querySelector('#w-onprem-error').textContent);
  await snap(page, 'wizard-lastmile-site');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.locator('#review').getByText('LUMEN-CHI-0042').waitFor();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#activation-key').waitFor();
  await page.getByText('(the provider)').waitFor();
  await snap(page, 'wizard-lastmile-key');
  const lmKey = (await page.locator('#activation-key').textContent()).trim();

  // --- a phone-sized window: the layout holds ---------------------------------------------------
  await page.setViewportSize({ width: 390, height: 800 });
  await page.getByRole('link', { name: 'Open the connection' }).click();
  await page.getByText('On-premises site').waitFor();
  await snap(page, 'connection-phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  assert.equal(overflow, false, 'no horizontal scrolling on a phone');
  await page.setViewportSize({ width: 1280, height: 900 });
  // Tags: a bad key is refused with the reason; one is added, then removed.
  await page.getByLabel('Key', { exact: true }).fill('aws:reserved');
  await page.getByLabel('Value', { exact: true }).fill('x');
  await expectRefusals(async () => {
    await page.getByRole('button', { name: 'Add the tag' }).click();
    await page.locator('#tag-error').filter({ hasText: /./ }).waitFor();
  });
  await page.getByLabel('Key', { exact: true }).fill('team');
  await page.getByLabel('Value', { exact: true }).fill('netops');
  await page.getByRole('button', { name: 'Add the tag' }).click();
  await page.locator('#tags tr', { hasText: 'netops' }).getByText('team').waitFor();
  await snap(page, 'connection-tags');
  await page.getByRole('button', { name: 'Remove the tag team' }).click();
  await page.locator('#no-tags').waitFor();
  // The provider's key, pasted by the wrong account: it is not theirs, and they are told so.
  await page.getByRole('link', { name: 'Accept' }).click();
  await expectRefusals(async () => {
    await page.getByLabel(/Activation key/).fill(lmKey);
    await page.locator('#a-key-error').filter({ hasText: 'another account' }).waitFor();
  });
  await signOut(page);

  // --- access keys: a new one, its secret shown once; disabled, it cannot sign in ------------------
  await signIn(page, A);
  await page.getByRole('link', { name: 'Access keys' }).click();
  await page.getByText('(this session)').waitFor();
  await page.locator('#key-role').selectOption('read-only');
  await page.getByRole('button', { name: 'Create the key' }).click();
  const newKey = (await page.locator('#new-key-id').textContent()).trim();
  const newSecret = (await page.locator('#new-key-secret').textContent()).trim();
  await snap(page, 'access-keys');
  await page.locator(`button[data-key="${newKey}"]`).click();
  await page.locator('tr', { hasText: newKey }).getByText('inactive').waitFor();
  await signOut(page);
  await page.getByLabel('Access key ID').fill(newKey);
  await page.getByLabel('Secret access key').fill(newSecret);
  await expectRefusals(async () => {
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('unknown access key or wrong secret').waitFor();
  });

  // --- the operator: accounts, and each account's keys ------------------------------------------
  await page.getByLabel('Secret access key').fill('');
  await signIn(page, OP);
  await page.getByRole('link', { name: 'Accounts' }).click();
  await page.getByRole('cell', { name: 'globex', exact: true }).waitFor();
  await page.locator('tr', { hasText: 'acme' }).getByRole('link', { name: 'Access keys' }).click();
  await page.locator('tr', { hasText: newKey }).waitFor();
  await snap(page, 'operator-keys');
  await signOut(page);

  // --- a read-only key sees no button that would fail ---------------------------------------------
  await signIn(page, RO);
  assert.equal(await page.getByRole('link', { name: 'Create' }).isVisible(), false);
  assert.equal(await page.getByRole('link', { name: 'Accept' }).isVisible(), false);
  await page.getByRole('link', { name: connId }).click();
  await page.getByRole('heading', { name: connId }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Delete the connection' }).count(), 0);
  await page.goto(`${endpoint}/console/#/create`);
  await page.getByText('Your access key is read-only').waitFor();
  await snap(page, 'read-only');
  await signOut(page);
  // After sign-out the session is gone: the API refuses the old cookie-less page.
  await expectRefusals(async () => {
    const after = await page.evaluate(async () => (await fetch('/v1/connections')).status);
    assert.equal(after, 401);
  });
}

// --- keyboard only: sign in, open the wizard, choose, and every control in visual order ------------
{
  const page = await newPage();
  await page.goto(`${endpoint}/console/`);
  await page.locator('#key-id').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'key-id', 'the first field has the focus');
  await page.keyboard.type(A.key);
  await page.keyboard.press('Tab');
  await page.keyboard.type(A.secret);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
  await tabTo(page, 'a[data-nav="create"]');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Create a connection' }).waitFor();
  assert.equal(await tabTo(page, 'input[name="cap"]'), 0, 'the wizard starts at its first choice');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.querySelector('input[name="cap"]:checked').value), 'lastmile');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.querySelector('input[name="cap"]:checked').value), 'multicloud');
  await tabTo(page, '#w-next');
  await page.keyboard.press('Enter');
  await page.locator('#w-desc').waitFor();
  assert.equal(await tabTo(page, '#w-desc'), 0, 'a new step starts at its first field');
  for (const next of ['#w-env', '#w-bw', '#w-ap']) {
    assert.equal(await tabTo(page, next), 1, `${next} follows the previous field`);
  }
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'w-bw');
  await snap(page, 'keyboard-focus');
  await page.close();
}

await browser.close();
assert.deepEqual(errors, [], `console errors:\n${errors.join('\n')}`);
console.log(`console test passed; ${shot} screenshots in ${shots}`);
