// The console on a connection that gateways carry (run by managed_e2e.rs, inside the tenant's
// network namespace, where the server is): the connection page shows it `available`, with its
// links up and their MKA and BGP state; a screenshot goes to XC_SHOTS.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, env, launch, signIn } from './browser.mjs';

const endpoint = env('XC_ENDPOINT');
const id = env('XC_CONNECTION');
const shots = env('XC_SHOTS');
fs.mkdirSync(shots, { recursive: true });

const browser = await launch();
const errors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
collect(page, errors);
await signIn(page, endpoint, env('XC_KEY'), env('XC_SECRET'));
await page.getByRole('link', { name: id }).click();
await page.getByRole('heading', { name: id }).waitFor();
await page.locator('.badge', { hasText: 'available' }).first().waitFor();
const links = page.locator('table tbody tr');
await links.first().waitFor();
const rows = await links.allTextContents();
assert.ok(rows.some((r) => r.includes('up') && r.includes('secured') && r.includes('Established')), rows.join('\n'));
// Routes each way, as the gateways' kernels have them; the history shows the acceptance.
const toRemote = await page.locator('#routes tr', { hasText: 'Owner side → remote side' }).textContent();
const toOwner = await page.locator('#routes tr', { hasText: 'Remote side → owner side' }).textContent();
assert.ok(toRemote.includes('10.0.0.0/16') && toOwner.includes('10.1.0.0/16'), `${toRemote}\n${toOwner}`);
const timeline = await page.locator('#timeline').textContent();
assert.ok(/Accepted by/.test(timeline) && /→ available/.test(timeline), timeline);
await page.screenshot({ path: path.join(shots, 'connection-available.png'), fullPage: true });
// The gateways page: both of this account's gateways, each with its last contact.
await page.getByRole('link', { name: 'Gateways' }).click();
await page.getByRole('heading', { name: 'Gateways' }).waitFor();
const gateways = await page.locator('table tbody tr').allTextContents();
assert.ok(gateways.length >= 1 && gateways.every((r) => / s ago/.test(r)), gateways.join('\n'));
await browser.close();
assert.deepEqual(errors, [], errors.join('\n'));
console.log('console shows the connection available');
