// A real browser (Debian's Chromium, driven by playwright-core) against the real nginx and the real
// route service: the invitation URL shows the waiting page while the backend starts and turns into the
// game by itself, two pages play drop-four by clicks and keys with the cookie the first answer set, a
// URL without the token shows the ended-session page, and a session that ends says so on the page.

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createLogger } from '../../../common/log.ts';
import { startServer, type RunningServer } from '../../../demo/src/server.ts';
import { findNginx, freePort, startNginx, type RunningNginx } from './nginx-harness.ts';
import { entry, startTestRouteService, type TestRouteService } from './route-harness.ts';
import { findChromium } from '../../../e2e/harness/chromium.ts';
import type { RouteEntry } from '../../../router/src/decide.ts';

jest.setTimeout(120_000);
const STEP_MS = 30_000;
const NAME = 'drop-four-b7x2k';
const DOOMED = 'drop-four-gone3'; // starting, then Failed

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

describeWithBrowser('in a browser, through nginx and the route service', () => {
  let routes: TestRouteService;
  let nginx: RunningNginx;
  let browser: Browser;
  let game: RunningServer | undefined;
  let gamePort: number;
  let room: RouteEntry;
  const log = createLogger('drop-four-test', 'silent');

  // The route service's cache and the "API server" agree here; tests move the backends' phases.
  const put = (e: RouteEntry) => {
    routes.cache.set(e);
    routes.api.set(e.name, e);
  };

  beforeAll(async () => {
    // The backend's port is fixed up front but nothing listens there yet: a backend still starting.
    gamePort = await freePort();
    routes = await startTestRouteService('games');
    room = entry(NAME, { phase: 'Pending', podIP: undefined, port: gamePort });
    put(room);
    nginx = await startNginx(nginxBinary!, { namespace: 'games', routePort: routes.service.port });
    // Running as root needs --no-sandbox; the pages are our own.
    browser = await chromium.launch({ executablePath: chromiumBinary!, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await game?.close();
    await nginx?.stop();
    await routes?.close();
  });

  const base = (name: string) => `http://127.0.0.1:${nginx.port}/p/${name}/`;
  const invitation = (e: RouteEntry) => `${base(e.name)}?token=${routes.tokenFor(e)}`;
  // Waits until the element's text matches (locators re-query the live page until then).
  const waitText = (page: Page, selector: string, text: RegExp) => page.locator(selector, { hasText: text }).waitFor({ timeout: STEP_MS });
  const waitDiscs = (page: Page, n: number) => page.locator('.cell[data-disc]').nth(n - 1).waitFor({ timeout: STEP_MS });
  const endedHeading = (page: Page) => page.getByRole('heading', { name: 'This session has ended or does not exist' }).waitFor({ timeout: STEP_MS });

  test('the invitation shows the waiting page, which becomes the game once the backend is Ready; two pages play to a win', async () => {
    const red = await browser.newPage();
    const first = await red.goto(invitation(room));
    expect(first?.status()).toBe(503);
    await red.getByRole('heading', { name: 'Starting your session…' }).waitFor({ timeout: STEP_MS });

    game = await startServer({ port: gamePort, host: '127.0.0.1', serveStatus: false, log });
    room = { ...room, phase: 'Ready', podIP: '127.0.0.1' };
    put(room);
    // The waiting page polls, sees the real page, and reloads into it; the WebSocket (a relative URL,
    // without the query) gets in with the cookie the first answer set.
    await red.getByRole('heading', { name: 'drop-four' }).waitFor({ timeout: STEP_MS });
    await waitText(red, '#connection', /^Connected$/);
    await waitText(red, '#you', /^You play Red\.$/);
    await waitText(red, '#status', /Waiting for an opponent/);
    const cookies = await red.context().cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'spawner_token', path: `/p/${NAME}/`, httpOnly: true, sameSite: 'Lax' })]);

    // The same link is the second player's invitation.
    const yellow = await browser.newPage();
    await yellow.goto(invitation(room));
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

  test('a URL without the token shows the ended-session page (404), in a browser that never had the cookie', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(base(NAME));
    expect(first?.status()).toBe(404);
    expect(await first?.headerValue('x-spawner-waiting')).toBe('ended');
    await endedHeading(page);
    await context.close();
  });

  test('a waiting page whose backend fails turns into the ended-session page', async () => {
    const doomed = entry(DOOMED, { phase: 'Pending', podIP: undefined });
    put(doomed);
    const page = await browser.newPage();
    const first = await page.goto(invitation(doomed));
    expect(first?.status()).toBe(503);
    await page.getByRole('heading', { name: 'Starting your session…' }).waitFor({ timeout: STEP_MS });

    put({ ...doomed, phase: 'Failed' });
    await endedHeading(page);
    await page.close();
  });

  test('a game whose session ends says so: the WebSocket is closed with 4404 and the page stops reconnecting', async () => {
    game ??= await startServer({ port: gamePort, host: '127.0.0.1', serveStatus: false, log });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(invitation(room));
    await waitText(page, '#connection', /^Connected$/);

    // The backend fails: the route service says so at once, and the app goes away.
    put({ ...room, phase: 'Failed' });
    await game.close();
    game = undefined;
    await waitText(page, '#connection', /^Session ended$/);
    await waitText(page, '#status', /^This session has ended\.$/);
    await context.close();
  });
});
