// The console's usage and quotas pages (run by console.rs's `usage_and_quotas_in_chromium`, on a
// server whose database holds last month's metered hours of one connection): the tenant's
// statement for that month, line by line with its SLA credit, the outage, the total, the VPN
// comparison and a bar per day; its quotas with their use; the operator's view of every
// account's total and a quota set from the page. Screenshots go to XC_SHOTS.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, env, expectRefusals, launch, signIn } from './browser.mjs';

const endpoint = env('XC_ENDPOINT');
const shots = env('XC_SHOTS');
const month = env('XC_MONTH');
const account = env('XC_ACCOUNT');
const connection = env('XC_CONNECTION');
fs.mkdirSync(shots, { recursive: true });

const browser = await launch();
const errors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
collect(page, errors);

// The tenant: last month's statement. The connections page's list is held back until the usage
// page is up: its answer, arriving late, must not draw over it (a page left behind is dropped).
let release;
const held = new Promise((r) => { release = r; });
await page.route(/\/v1\/connections\?/, async (route) => { await held; await route.continue(); }, { times: 1 });
await signIn(page, endpoint, env('XC_KEY'), env('XC_SECRET'));
await page.getByRole('link', { name: 'Usage' }).click();
await page.getByRole('heading', { name: 'Usage', exact: true }).waitFor();
const late = page.waitForResponse(/\/v1\/connections\?/);
release();
await (await late).finished();
await page.getByLabel('Month').fill(month);
await page.getByRole('button', { name: 'Show' }).click();
await page.getByRole('heading', { name: new RegExp(`^${month} · account ${account}$`) }).waitFor();
const rows = await page.locator('#usage-lines tbody tr').allTextContents();
assert.equal(rows.length, 2, rows.join('\n'));
// 240 hours at 1 Gbps, $0.25 an hour; 20 GB sent at no charge.
assert.ok(rows[0].includes(connection) && /Connection hours at 1Gbps/.test(rows[0]) && /240 hours/.test(rows[0]) && /\$60\.00/.test(rows[0]), rows[0]);
assert.ok(/Data sent/.test(rows[1]) && /20 GB/.test(rows[1]) && /\$0\.00/.test(rows[1]), rows[1]);
// 30 minutes down of 240 hours: 99.7917% available, 10% of $60.00 back.
const credit = await page.locator('#usage-lines tr.credit').textContent();
assert.ok(/available 99\.791667% of the month against 99\.99%/.test(credit) && /10% of its hours back/.test(credit) && /30 min/.test(credit) && /−\$6\.00/.test(credit), credit);
assert.equal(await page.locator('#usage-total').textContent(), '$54.00');
const vpn = await page.locator('#usage-vpn').textContent();
// One VPN connection for 240 hours at $0.05 and 20 GB at $0.09.
assert.ok(/This month over a VPN: \$13\.80 \(AWS Site-to-Site VPN/.test(vpn), vpn);
await page.waitForFunction(() => Number(document.querySelector('#usage-days')?.dataset.points) === 10);
await page.screenshot({ path: path.join(shots, 'usage.png'), fullPage: true });
// Its quotas: six, with the attach point it has counted.
await page.getByRole('link', { name: 'Quotas' }).click();
await page.getByRole('heading', { name: 'Quotas' }).waitFor();
assert.equal(await page.locator('#quotas tbody tr').count(), 6);
const aps = await page.locator('#quotas tr[data-quota="attach-points"] td').allTextContents();
assert.deepEqual(aps.slice(0, 4), ['attach-points', '1', '50', '50']);
assert.equal(await page.locator('#set-quota').count(), 0, 'a tenant cannot set quotas');
await page.screenshot({ path: path.join(shots, 'quotas.png'), fullPage: true });
await page.getByRole('button', { name: 'Sign out' }).click();

// The operator: every account's total, then the tenant's attach points set to 5 from the page.
await signIn(page, endpoint, env('XC_OP_KEY'), env('XC_OP_SECRET'));
await page.getByRole('link', { name: 'Usage' }).click();
await page.getByLabel('Month').fill(month);
await page.getByRole('button', { name: 'Show' }).click();
await page.locator('#usage-accounts').getByRole('link', { name: account }).waitFor();
assert.equal(await page.locator('#usage-total').textContent(), '$54.00');
await page.screenshot({ path: path.join(shots, 'usage-accounts.png'), fullPage: true });
await page.goto(`${endpoint}/console/#/quotas/${account}`);
await page.getByRole('heading', { name: 'Quotas' }).waitFor();
await page.getByLabel('Quota', { exact: true }).selectOption('attach-points');
await expectRefusals(errors, async () => {
  await page.getByLabel('Value').fill('many');
  await page.getByRole('button', { name: 'Set' }).click();
  await page.locator('#sq-error', { hasText: 'whole number' }).waitFor();
});
await page.getByLabel('Value').fill('5');
await page.getByRole('button', { name: 'Set' }).click();
await page.waitForFunction(() => /\b5\b/.test(document.querySelector('#quotas tr[data-quota="attach-points"] td:nth-child(3)')?.textContent || ''));
await page.screenshot({ path: path.join(shots, 'quotas-operator.png'), fullPage: true });

assert.deepEqual(errors, []);
await browser.close();
console.log('usage test passed');
