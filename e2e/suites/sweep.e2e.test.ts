// The idle sweep on a real node: a backend with gracePeriodSeconds 5 lives while a WebSocket stays
// open (15 s, three times the grace), and once the socket closes the sweeper deletes it, with its
// Pod, and an Event says why. In each way connections are counted: from the node (the
// deployed default: no sidecar), with the sidecar asked for, and with the app serving /status itself.
// Needs the sweeper DaemonSet deployed.
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSlb, deleteSlb, eventsFor, fetchRouted, getSlb, player, waitFor, waitForGone, waitForPhase, wsUrl } from './support.ts';
import type { SlbOptions } from './support.ts';

jest.setTimeout(300_000);
const grace = 5;

describe.each<[string, Partial<SlbOptions>]>([
  ['in node mode (the default: no sidecar)', {}],
  ['with the sidecar asked for', { sidecar: true }],
  ['with the sidecar disabled, the app serving /status', { sidecar: false, env: { SPAWNER_SERVE_STATUS: 'true' } }],
])('idle sweep %s', (_label, variant) => {
  let name: string | undefined;
  afterAll(async () => {
    if (name) await deleteSlb(name);
  });

  test(`an open WebSocket keeps the backend for 15 s; after it closes the backend and its Pod go, and an Event says why`, async () => {
    name = await createSlb({ prefix: 'e2e-sweep', gracePeriodSeconds: grace, ...variant });
    const ready = await waitForPhase(name, 'Ready');
    await fetchRouted(ready.status!.url!);
    const p = player(wsUrl(ready.status!.url!));
    await p.opened;
    await p.until((m) => m.type === 'state');

    // Three grace periods with a connection open: never swept.
    const heldUntil = Date.now() + 15_000;
    while (Date.now() < heldUntil) {
      const slb = await getSlb(name);
      expect(slb?.metadata.deletionTimestamp).toBeUndefined();
      expect(slb?.status?.phase).toBe('Ready');
      await sleep(1000);
    }

    const closedAt = Date.now();
    p.ws.close();
    await p.closed;
    await waitForGone(name, 120_000);
    // A figure for the log, not an assertion: the target is grace + 2 s.
    console.log(`${name}: gone ${((Date.now() - closedAt) / 1000).toFixed(1)} s after the last connection closed (grace ${grace} s)`);

    const events = await waitFor(
      async () => {
        const list = await eventsFor(name!);
        return list.find((e) => e.reason === 'Idle') ? list : undefined;
      },
      { what: `an Idle Event for ${name}`, timeoutMs: 30_000 },
    );
    const idle = events.find((e) => e.reason === 'Idle')!;
    expect(idle.message).toMatch(/idle|inactive|connection/i);
    name = undefined;
  });
});
