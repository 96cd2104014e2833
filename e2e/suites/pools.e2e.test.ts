// A WarmPool on the deployed system: a session claimed from it is Ready at once and its URL answers the
// first request with the app (the route service reaches the claimed Pod by its IP, no Service needed);
// Debian's Chromium plays drop-four on it while the pool starts the replacement member.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import { findChromium } from '../harness/chromium.ts';
import { seatTwoPlayers, STEP_MS, waitText } from './browser-players.ts';
import { backendNamespace, deleteSlb, demoImage, e2eLabel, fetchRouted, kubectl, waitFor, waitForPhase } from './support.ts';

jest.setTimeout(300_000);
const POOL = 'e2e-drop-four';

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('SKIPPING the pool browser e2e test: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const describeWithBrowser = chromiumPath ? describe : describe.skip;

const readyMembers = async () => Number((await kubectl(['get', 'wp', POOL, '-n', backendNamespace, '-o', 'jsonpath={.status.readyReplicas}'])) || 0);
const memberNames = async () =>
  (await kubectl(['get', 'pods', '-n', backendNamespace, '-l', `spawner.dev/pool=${POOL}`, '-o', 'jsonpath={.items[*].metadata.name}'])).split(/\s+/).filter(Boolean);

describeWithBrowser('a session claimed from a WarmPool, in a browser', () => {
  let browser: Browser;
  let name: string | undefined;

  beforeAll(async () => {
    await kubectl(['apply', '-n', backendNamespace, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'spawner.dev/v1', kind: 'WarmPool', metadata: { name: POOL, labels: { [e2eLabel]: 'true' } },
        spec: { replicas: 2, httpPort: 8080, template: { containers: [{ name: 'app', image: demoImage, imagePullPolicy: 'IfNotPresent' }] } },
      }),
    });
    await waitFor(async () => (await readyMembers()) === 2 || undefined, { what: `the pool ${POOL} to have 2 Ready members`, timeoutMs: 180_000, intervalMs: 500 });
    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (name) await deleteSlb(name);
    await kubectl(['delete', 'wp', POOL, '-n', backendNamespace, '--ignore-not-found', '--wait=false']);
  });

  test('Ready at once with a started member; the first request reaches the app; two players play while the pool refills', async () => {
    const before = await memberNames();
    name = await kubectl(['create', '-o', 'jsonpath={.metadata.name}', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend',
        metadata: { generateName: 'e2e-pool-', namespace: backendNamespace, labels: { [e2eLabel]: 'true' } },
        spec: { poolRef: { name: POOL }, gracePeriodSeconds: 600 },
      }),
    });
    const slb = await waitForPhase(name, 'Ready');
    const claim = (slb.status as { conditions?: Array<{ type: string; reason: string }> }).conditions?.find((c) => c.type === 'PoolClaim');
    expect(claim?.reason).toBe('ClaimedWarm');
    expect(before).toContain(slb.status!.podName);
    const url = slb.status!.url!;
    // Ready means routable: the very first request is answered by the app, not a waiting page.
    const first = await fetchRouted(url);
    expect(first.status).toBe(200);
    expect(await first.text()).toMatch(/drop-four|Drop Four/i);

    const { red, yellow } = await seatTwoPlayers(browser, url);

    // The pool starts a replacement while they play.
    const refilled = waitFor(async () => {
      const now = await memberNames();
      return (await readyMembers()) === 2 && !now.includes(slb.status!.podName!) ? now : undefined;
    }, { what: `the pool ${POOL} back to 2 Ready members`, timeoutMs: 180_000, intervalMs: 500 });

    await red.getByRole('button', { name: /^Column 4,/ }).click();
    await yellow.locator('.cell[data-disc]').first().waitFor({ timeout: STEP_MS });
    await waitText(yellow, '#status', /Your turn\.$/);
    await yellow.getByRole('button', { name: /^Column 3,/ }).click();
    await red.locator('.cell[data-disc]').nth(1).waitFor({ timeout: STEP_MS });
    expect(await red.locator('.cell[data-disc]').count()).toBe(2);

    const members = await refilled;
    expect(members).toHaveLength(2);
    // The session is still the claimed member, and still Ready.
    const after = await waitForPhase(name, 'Ready');
    expect(after.status!.podName).toBe(slb.status!.podName);
    await yellow.close();
    await red.close();
  });
});
