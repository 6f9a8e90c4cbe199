// The console's filters page (run by console.rs's `filters_in_chromium`, on a server where a
// tenant's attach point 10.0.0.0/16 has an accepted connection to another tenant's 10.1.0.0/16):
// a security group created from the page, a bad rule refused naming its field, ssh allowed, the
// "would this pass?" form answering for both sides with the rule that decided, a network ACL
// created, its deny rule winning and then removed, a prefix list created and updated; deletions
// previewed (dry runs that change nothing), then a group detached and attached again, and the
// ACL, the group and the list deleted. Screenshots go to XC_SHOTS.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, env, expectRefusals, launch, signIn } from './browser.mjs';

const endpoint = env('XC_ENDPOINT');
const shots = env('XC_SHOTS');
fs.mkdirSync(shots, { recursive: true });

const browser = await launch();
const errors = [];
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
collect(page, errors);
await signIn(page, endpoint, env('XC_KEY'), env('XC_SECRET'));
await page.getByRole('link', { name: 'Filters' }).click();
await page.getByRole('heading', { name: 'Filters', exact: true }).waitFor();

// A group for the attach point: AWS's default outbound rules.
await page.locator('#sg-name').fill('web');
await page.getByRole('button', { name: 'Create the security group' }).click();
const group = page.locator('section[data-group]');
await group.getByRole('heading', { name: /^web sg-[0-9a-f]{16}$/ }).waitFor();
assert.equal(await group.locator('table.rules tbody tr').count(), 2);

// A port on icmp is refused, naming the field; ssh from the other side is allowed.
await expectRefusals(errors, async () => {
  await group.getByLabel('Protocol').selectOption('icmp');
  await group.getByLabel('Ports').fill('22');
  await group.getByLabel('Peer prefix').fill('10.1.0.0/16');
  await group.getByRole('button', { name: 'Allow' }).click();
  await group.locator('p.error', { hasText: 'rules[0].fromPort' }).waitFor();
});
await group.getByLabel('Protocol').selectOption('tcp');
await group.getByRole('button', { name: 'Allow' }).click();
await page.waitForFunction(() => document.querySelectorAll('section[data-group] table.rules tbody tr').length === 3);
const ssh = await page.locator('section[data-group] table.rules tbody tr').nth(2).textContent();
assert.ok(/inbound/.test(ssh) && /22/.test(ssh) && /10\.1\.0\.0\/16/.test(ssh), ssh);
const rule = ssh.match(/sgr-[0-9a-f]{16}/)[0];

// Would ssh from the other side pass? Yes, by that rule, and the other side filters nothing.
const check = async (port) => {
  await page.getByLabel('From', { exact: true }).fill('10.1.2.3');
  await page.getByLabel('To', { exact: true }).fill('10.0.0.5');
  await page.locator('#ck-proto').selectOption('tcp');
  await page.locator('#ck-port').fill(String(port));
  await page.getByRole('button', { name: 'Check' }).click();
  await page.locator('#check-verdict').waitFor();
  const verdict = await page.locator('#check-verdict').textContent();
  const sides = await page.locator('#check-sides tbody tr').allTextContents();
  await page.locator('#check-result').evaluate((e) => { e.innerHTML = ''; });
  return { verdict, sides };
};
let r = await check(22);
assert.ok(/^allow/.test(r.verdict), r.verdict);
assert.equal(r.sides.length, 2, r.sides.join('\n'));
assert.ok(r.sides[0].includes(rule) && /inbound/.test(r.sides[0]), r.sides[0]);
assert.ok(/outbound/.test(r.sides[1]) && /filters nothing/.test(r.sides[1]), r.sides[1]);
await page.screenshot({ path: path.join(shots, 'filters-check.png'), fullPage: true });
r = await check(23);
assert.ok(/^deny/.test(r.verdict) && /no rule of the attached security groups/.test(r.sides[0]), r.sides[0]);

// A network ACL: deny 100 beats allow 200; removing 100 lets ssh in.
await page.locator('#acl-name').fill('edge');
await page.getByRole('button', { name: 'Create the network ACL' }).click();
const aclPanel = page.locator('section[data-acl]');
await aclPanel.getByRole('heading', { name: /^edge acl-[0-9a-f]{16}$/ }).waitFor();
const acl = await aclPanel.getAttribute('data-acl');
// Empty, it refuses everything (its implicit deny).
r = await check(22);
assert.ok(/^deny/.test(r.verdict) && /implicit deny/.test(r.sides[0]), r.sides[0]);
for (const [number, action, proto, ports] of [['200', 'allow', 'all', ''], ['100', 'deny', 'tcp', '22']]) {
  await aclPanel.getByLabel('Number').fill(number);
  await aclPanel.getByLabel('Action').selectOption(action);
  await aclPanel.getByLabel('Protocol').selectOption(proto);
  await aclPanel.getByLabel('Ports').fill(ports);
  await aclPanel.getByLabel('Prefix').fill('10.1.0.0/16');
  await aclPanel.getByRole('button', { name: 'Add the rule' }).click();
  await page.locator(`section[data-acl="${acl}"] button[data-number="${number}"]`).waitFor();
}
r = await check(22);
assert.ok(/^deny/.test(r.verdict) && /rule 100/.test(r.sides[0]), r.sides[0]);
await page.screenshot({ path: path.join(shots, 'filters-acl.png'), fullPage: true });
await page.locator(`section[data-acl="${acl}"] button[data-number="100"]`).click();
await page.locator(`section[data-acl="${acl}"] button[data-number="100"]`).waitFor({ state: 'detached' });
r = await check(22);
assert.ok(/^allow/.test(r.verdict), r.verdict);

// A prefix list.
await page.locator('#pl-name').fill('partners');
await page.locator('#pl-prefixes').fill('10.1.0.0/24, 10.1.1.0/24');
await page.getByRole('button', { name: 'Create the prefix list' }).click();
await page.locator('#prefix-lists tbody tr', { hasText: 'partners' }).waitFor();
const listRow = await page.locator('#prefix-lists tbody tr', { hasText: 'partners' }).textContent();
assert.ok(/10\.1\.0\.0\/24, 10\.1\.1\.0\/24/.test(listRow), listRow);
await page.screenshot({ path: path.join(shots, 'filters.png'), fullPage: true });

// Its prefixes replaced in place.
await page.locator('#ul-list').selectOption({ label: 'partners' });
await page.locator('#ul-prefixes').fill('10.1.9.0/24');
await page.getByRole('button', { name: 'Update the prefix list' }).click();
await page.locator('#prefix-lists tbody tr', { hasText: '10.1.9.0/24' }).waitFor();

// Previewed changes are tried, not made: deleting the group and the ACL says what it would cut
// (no gateway enforces them here) and leaves both in place.
await page.locator('#preview').check();
await group.getByRole('button', { name: 'Delete the group' }).click();
await page.locator('#dry-run-result').waitFor();
let dry = await page.locator('#dry-run-result').textContent();
assert.ok(/Nothing was changed/.test(dry) && /No gateway enforces it yet/.test(dry), dry);
await page.screenshot({ path: path.join(shots, 'filters-dry-run.png'), fullPage: true });
await page.locator('#dry-run').evaluate((e) => { e.innerHTML = ''; });
await aclPanel.getByRole('button', { name: 'Delete the ACL' }).click();
await page.locator('#dry-run-result').waitFor();
assert.equal(await page.locator('section[data-group]').count(), 1);
assert.equal(await page.locator('section[data-acl]').count(), 1);
await page.locator('#preview').uncheck();

// Made: detached and attached again, then the ACL, the group and the list deleted (confirmed).
page.on('dialog', (d) => d.accept());
await group.getByRole('button', { name: 'Detach' }).click();
await page.locator('section[data-group] p.hint', { hasText: 'no attach point' }).waitFor();
await page.locator('section[data-group]').getByRole('button', { name: 'Attach', exact: true }).click();
await page.locator('section[data-group] p.hint', { hasText: 'Attached to vpc-a' }).waitFor();
await page.locator('section[data-acl]').getByRole('button', { name: 'Delete the ACL' }).click();
await page.locator('section[data-acl]').waitFor({ state: 'detached' });
await page.locator('section[data-group]').getByRole('button', { name: 'Delete the group' }).click();
await page.locator('#no-groups').waitFor();
await page.locator('#prefix-lists tbody tr', { hasText: 'partners' }).getByRole('button', { name: 'Delete' }).click();
await page.locator('#prefix-lists tbody tr', { hasText: 'partners' }).waitFor({ state: 'detached' });

assert.deepEqual(errors, []);
await browser.close();
console.log('filters test passed');
