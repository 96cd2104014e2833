// A real browser against the deployed system: Debian's Chromium (driven by playwright-core, never a
// downloaded browser) opens a backend's public URL through nginx on the cluster and plays a move
// that the second player's page shows. The screenshot lands in e2e/artifacts/.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../harness/paths.ts';
import { createSlb, deleteSlb, fetchRouted, waitForPhase } from './support.ts';
import { findChromium } from '../harness/chromium.ts';
import { seatTwoPlayers, STEP_MS, waitText } from './browser-players.ts';

jest.setTimeout(300_000);

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('SKIPPING the browser e2e test: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const describeWithBrowser = chromiumPath ? describe : describe.skip;

describeWithBrowser('in a browser, through the deployed nginx', () => {
  let browser: Browser;
  let name: string | undefined;

  beforeAll(async () => {
    // Running as root needs --no-sandbox; the pages are our own.
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    if (name) await deleteSlb(name);
  });

  test('two pages join the demo and a click drops a disc both see', async () => {
    name = await createSlb({ prefix: 'e2e-browser', gracePeriodSeconds: 600 });
    const slb = await waitForPhase(name, 'Ready');
    const url = slb.status!.url!;
    await fetchRouted(url);

    const { red, yellow } = await seatTwoPlayers(browser, url);

    await red.getByRole('button', { name: /^Column 4,/ }).click();
    await yellow.locator('.cell[data-disc]').first().waitFor({ timeout: STEP_MS });
    await waitText(yellow, '#status', /Your turn\.$/);
    expect(await yellow.locator('.cell[data-disc]').count()).toBe(1);
    expect(await red.getByRole('button', { name: /^Column 4, bottom to top: Red/ }).count()).toBe(1);

    const dir = path.join(repoRoot, 'e2e', 'artifacts');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'drop-four-first-move.png');
    await red.screenshot({ path: file, fullPage: true });
    console.log(`screenshot: ${path.relative(repoRoot, file)}`);
    await yellow.close();
    await red.close();
  });
});
