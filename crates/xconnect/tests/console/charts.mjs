// The console's charts and alarms on a connection that carried traffic (run by demo_scenarios.rs
// after iperf3): the connection page draws bandwidth, RTT, loss and jitter with points and reads
// them out under the pointer; the alarms page lists the default alarms, previews a new alarm's
// threshold on its metric, creates it and shows it with its history. Screenshots go to XC_SHOTS.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { collect, env, expectRefusals, launch, signIn } from './browser.mjs';

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

// Every chart has points (the default range is a day, in 5-minute periods).
const drawn = (sel) => page.waitForFunction((s) => Number(document.querySelector(s)?.dataset.points) > 0, sel, { timeout: 60000 });
for (const chart of ['#chart-bw', '#chart-rtt', '#chart-loss', '#chart-jitter']) await drawn(chart);
// The bandwidth chart: egress, ingress and the tier; the read-out under the pointer is a rate.
const legend = await page.locator('#chart-bw .u-legend').textContent();
assert.ok(/Egress/.test(legend) && /Ingress/.test(legend) && /Bandwidth \(/.test(legend), legend);
// The pointer over the latest period with data (where the chart says it is): the read-out below
// the chart shows its egress. The chart is redrawn each minute, so its place is read again on
// each try until the read-out shows.
const hoverLatest = async () => {
  const chart = page.locator('#chart-bw');
  const egress = chart.locator('.u-legend .u-series', { hasText: 'Egress' }).locator('.u-value');
  const deadline = Date.now() + 30000;
  let readout = '';
  let tried = '';
  while (!/bit\/s$/.test(readout) && Date.now() < deadline) {
    await chart.scrollIntoViewIfNeeded();
    const { from, to, latest } = await chart.evaluate((el) => el.dataset);
    const box = await chart.locator('.u-over').boundingBox();
    tried = `latest ${latest} on ${from}..${to}, plot ${JSON.stringify(box)}`;
    if (box && latest && Number(to) > Number(from)) {
      const x = box.x + (box.width * (Number(latest) - Number(from))) / (Number(to) - Number(from));
      await page.mouse.move(x, box.y + 5);
      await page.mouse.move(Math.min(x, box.x + box.width - 1), box.y + box.height / 2);
    }
    readout = await egress.textContent();
  }
  return `${readout}${/bit\/s$/.test(readout) ? '' : ` (${tried})`}`;
};
const readout = await hoverLatest();
assert.ok(/^[\d.]+ [kMG]?bit\/s$/.test(readout), `the read-out under the pointer: ${readout}`);
// One RTT series per link, read out in milliseconds.
const rttSeries = await page.locator('#chart-rtt .u-legend .u-series').count();
assert.ok(rttSeries >= 2, `RTT series: ${rttSeries}`);
// The last hour, in minutes.
await page.getByRole('button', { name: '1h' }).click();
await page.waitForFunction(() => document.querySelector('[data-range="1h"]').getAttribute('aria-pressed') === 'true');
await drawn('#chart-bw');
const lastHour = await hoverLatest();
assert.ok(/bit\/s$/.test(lastHour), `the last hour's read-out: ${lastHour}`);
await page.screenshot({ path: path.join(shots, 'connection-charts.png'), fullPage: true });
await page.locator('#charts').screenshot({ path: path.join(shots, 'charts.png') });

// Alarms: the connection's three default alarms, then a new one, previewed on its metric.
await page.getByRole('link', { name: 'Alarms' }).click();
await page.getByRole('heading', { name: 'Alarms', exact: true }).waitFor();
const rows = await page.locator('#alarms tbody tr').allTextContents();
for (const suffix of ['-down', '-loss', '-utilization']) {
  assert.ok(rows.some((r) => r.includes(`${id}${suffix}`)), `${suffix} in ${rows.join('\n')}`);
}
await page.getByLabel('Name', { exact: true }).fill('loss-above-2');
await page.getByLabel('Connection', { exact: true }).selectOption(id);
await page.getByLabel('Metric', { exact: true }).selectOption('ConnectionPacketLossPercent');
await page.getByLabel('Threshold', { exact: true }).fill('2');
await page.locator('#new-alarm').scrollIntoViewIfNeeded();
await page.waitForFunction(() => /Threshold > 2/.test(document.querySelector('#alarm-preview .u-legend')?.textContent || ''));
await page.locator('#new-alarm').screenshot({ path: path.join(shots, 'alarm-create.png') });
// A refusal says what is wrong and creates nothing.
await expectRefusals(errors, async () => {
  await page.getByLabel('Datapoints to alarm').fill('9');
  await page.getByRole('button', { name: 'Create the alarm' }).click();
  await page.locator('#alarm-error', { hasText: /datapoints/i }).waitFor();
});
await page.getByLabel('Datapoints to alarm').fill('3');
await page.getByRole('button', { name: 'Create the alarm' }).click();
await page.getByRole('heading', { name: /loss-above-2/ }).waitFor();
const facts = await page.locator('dl.facts').textContent();
assert.ok(/ConnectionPacketLossPercent/.test(facts) && /Average > 2 per 60 s, 3 of 5/.test(facts), facts);
const history = await page.locator('#alarm-history tbody tr').allTextContents();
assert.ok(history.length >= 1, 'the alarm has its history');
await page.screenshot({ path: path.join(shots, 'alarm.png'), fullPage: true });
await page.getByRole('link', { name: 'Alarms' }).click();
await page.locator('#alarms tbody tr', { hasText: 'loss-above-2' }).waitFor();
await page.locator('#alarm-preview .u-over').waitFor();
await page.screenshot({ path: path.join(shots, 'alarms.png'), fullPage: true });
await browser.close();
assert.deepEqual(errors, [], errors.join('\n'));
console.log('console charts the traffic and creates an alarm');
