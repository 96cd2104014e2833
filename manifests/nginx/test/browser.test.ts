// A real browser (Debian's Chromium, driven by playwright-core) against the real nginx: the waiting
// page turns into the game by itself once the backend starts, and two pages play drop-four by clicks;
// the ended-session page (404) turns into the app when the name resolves after all (a link opened the
// instant its backend was created), and a waiting page whose backend is deleted turns into it.

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createLogger } from '../../../common/log.ts';
import { startServer, type RunningServer } from '../../../demo/src/server.ts';
import { startDnsStandIn, type DnsStandIn } from './dns-stand-in.ts';
import { findNginx, freePort, startNginx, type RunningNginx } from './nginx-harness.ts';
import { findChromium } from '../../../e2e/harness/chromium.ts';

jest.setTimeout(120_000);
const STEP_MS = 30_000;
const NAME = 'drop-four-b7x2k';
const LATE = 'drop-four-late9'; // has no Service when first opened, then gets one
const DOOMED = 'drop-four-gone3'; // has a Service but no answer, then is deleted
const fqdn = (name: string) => `${name}.games.svc.cluster.local`;

const nginxBinary = findNginx();
const chromiumBinary = findChromium();
if (!nginxBinary || !chromiumBinary) {
  const banner = '!'.repeat(100);
  console.warn(
    `${banner}\nSKIPPING the browser tests of the waiting page and drop-four: ` +
      `${!nginxBinary ? 'no nginx' : 'no Chromium'} found.\nInstall with: sh manifests/nginx/test/install-deps.sh\n${banner}`,
  );
}
const describeWithBrowser = nginxBinary && chromiumBinary ? describe : describe.skip;

describeWithBrowser('in a browser, through nginx', () => {
  let dns: DnsStandIn;
  let nginx: RunningNginx;
  let browser: Browser;
  let game: RunningServer | undefined;
  let gamePort: number;
  // The stand-in reads this map on every question, so tests add and remove Services.
  const services = new Map<string, string>();
  const log = createLogger('drop-four-test', 'silent');

  beforeAll(async () => {
    // The backend's port is fixed up front but nothing listens there yet: a backend still starting.
    gamePort = await freePort();
    services.set(fqdn(NAME), '127.0.0.1');
    dns = await startDnsStandIn(services);
    nginx = await startNginx(nginxBinary!, {
      namespace: 'games',
      clusterDomain: 'cluster.local',
      resolver: `127.0.0.1:${dns.port}`,
      upstreamPort: gamePort,
    });
    // Running as root needs --no-sandbox; the pages are our own.
    browser = await chromium.launch({ executablePath: chromiumBinary!, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await game?.close();
    await nginx?.stop();
    await dns?.close();
  });

  const url = (name = NAME) => `http://127.0.0.1:${nginx.port}/p/${name}/`;
  // Waits until the element's text matches (locators re-query the live page until then).
  const waitText = (page: Page, selector: string, text: RegExp) => page.locator(selector, { hasText: text }).waitFor({ timeout: STEP_MS });
  const waitDiscs = (page: Page, n: number) => page.locator('.cell[data-disc]').nth(n - 1).waitFor({ timeout: STEP_MS });

  test('the waiting page becomes the game once the backend answers; two pages play to a win', async () => {
    const red = await browser.newPage();
    const first = await red.goto(url());
    expect(first?.status()).toBe(503);
    await red.getByRole('heading', { name: 'Starting your session…' }).waitFor({ timeout: STEP_MS });

    game = await startServer({ port: gamePort, host: '127.0.0.1', serveStatus: false, log });
    // The waiting page polls, sees the real page, and reloads into it.
    await red.getByRole('heading', { name: 'drop-four' }).waitFor({ timeout: STEP_MS });
    await waitText(red, '#connection', /^Connected$/);
    await waitText(red, '#you', /^You play Red\.$/);
    await waitText(red, '#status', /Waiting for an opponent/);

    const yellow = await browser.newPage();
    await yellow.goto(url());
    await waitText(yellow, '#you', /^You play Yellow\.$/);
    await waitText(red, '#status', /Your turn\.$/);
    await waitText(yellow, '#status', /Red's turn\.$/);

    // Red fills column 1 by clicking, yellow column 2 by keyboard shortcut; red's fourth disc wins.
    for (let turn = 0; turn < 7; turn++) {
      const mover = turn % 2 === 0 ? red : yellow;
      await waitText(mover, '#status', /Your turn\.$/);
      if (mover === red) await red.getByRole('button', { name: /^Column 1,/ }).click();
      else await yellow.keyboard.press('2');
      await waitDiscs(mover, turn + 1);
    }
    await waitText(red, '#status', /^You win!$/);
    await waitText(yellow, '#status', /^Red wins\.$/);
    expect(await red.locator('.cell[data-disc]').count()).toBe(7);
    expect(await red.locator('.cell[data-win="true"]').count()).toBe(4);
    expect(await red.getByRole('button', { name: 'Column 1, bottom to top: Red, Red, Red, Red' }).count()).toBe(1);
    expect(await red.getByRole('button', { name: 'New game' }).isVisible()).toBe(true);

    // Yellow closes the tab: red is told.
    await yellow.close();
    await waitText(red, '#notice', /Yellow left the game/);
    await red.close();
  });
  test('an unknown name shows the ended-session page (404), which opens the app if the name resolves soon after', async () => {
    game ??= await startServer({ port: gamePort, host: '127.0.0.1', serveStatus: false, log });
    const page = await browser.newPage();
    const first = await page.goto(url(LATE));
    expect(first?.status()).toBe(404);
    expect(await first?.headerValue('x-spawner-waiting')).toBe('unresolved');
    await page.getByRole('heading', { name: 'This session has ended or does not exist' }).waitFor({ timeout: STEP_MS });

    // The Service appears (nginx notices once its cached "no such name" expires); the page's few
    // checks see the app's own answer and reload into it.
    services.set(fqdn(LATE), '127.0.0.1');
    await page.getByRole('heading', { name: 'drop-four' }).waitFor({ timeout: STEP_MS });
    await page.close();
  });

  test('a waiting page whose backend is deleted turns into the ended-session page', async () => {
    // Resolves to an address where nothing listens: a Service whose Pod is not ready.
    services.set(fqdn(DOOMED), '127.0.0.2');
    const page = await browser.newPage();
    const first = await page.goto(url(DOOMED));
    expect(first?.status()).toBe(503);
    await page.getByRole('heading', { name: 'Starting your session…' }).waitFor({ timeout: STEP_MS });

    services.delete(fqdn(DOOMED));
    await page.getByRole('heading', { name: 'This session has ended or does not exist' }).waitFor({ timeout: STEP_MS });
    await page.close();
  });
});
