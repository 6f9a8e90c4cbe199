// What the console scripts share: their settings from the environment, Debian's Chromium
// driven headless, sign-in, and the console errors of their pages (the browser's reports of
// anything the CSP refused among them), which fail a run unless a step expects them.

import { chromium } from 'playwright-core';

/// A setting the Rust test passes in the environment.
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

export const launch = () => chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});

/// Collects `page`'s console errors and uncaught exceptions into `errors`.
export function collect(page, errors) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
}

/// A refused request (4xx) is logged by the browser as "Failed to load resource"; while `f`
/// provokes refusals on purpose, those are taken out of `errors`, and only those.
export async function expectRefusals(errors, f) {
  const before = errors.length;
  await f();
  const added = errors.splice(before);
  for (const e of added) {
    if (!/Failed to load resource: the server responded with a status of 4\d\d/.test(e)) errors.push(e);
  }
}

/// Signs in on the console's first page with an access key.
export async function signIn(page, endpoint, key, secret) {
  await page.goto(`${endpoint}/console/`);
  await page.getByLabel('Access key ID').fill(key);
  await page.getByLabel('Secret access key').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
}
