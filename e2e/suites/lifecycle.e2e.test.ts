// Failures and deletion on a real node: a bad image and an exiting app end Failed with the reason;
// deleting a backend with a player connected closes the player's socket and leaves nothing behind.
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { createSlb, deleteSlb, eventsFor, fetchRouted, player, waitForGone, waitForPhase, wsUrl } from './support.ts';

jest.setTimeout(300_000);

describe('backend lifecycle on a real node', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await deleteSlb(name);
  });

  test('an image that cannot be pulled ends Failed with the pull reason', async () => {
    // Nothing serves localhost:80 as a registry here (nor on kind): the pull fails.
    const name = await createSlb({ prefix: 'e2e-badimage', image: 'localhost/spawner/does-not-exist:0.0.0' });
    created.push(name);
    const slb = await waitForPhase(name, 'Failed');
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(slb.status?.reason);
    expect(slb.status?.message).toContain('does-not-exist');
    expect((await eventsFor(name)).map((e) => e.reason)).toContain(slb.status?.reason);
  });

  test('an app that exits ends Failed as AppExited', async () => {
    const name = await createSlb({ prefix: 'e2e-exits', command: ['/usr/local/bin/node', '-e', 'process.exit(3)'] });
    created.push(name);
    const slb = await waitForPhase(name, 'Failed');
    expect(slb.status?.reason).toBe('AppExited');
    expect(slb.status?.message).toContain('code 3');
  });

  test('deleting a backend with a WebSocket open closes it, and the SLB and its Pod go', async () => {
    const name = await createSlb({ prefix: 'e2e-delete', gracePeriodSeconds: 600 });
    created.push(name);
    const url = (await waitForPhase(name, 'Ready')).status!.url!;
    await fetchRouted(url);
    const p = player(wsUrl(url));
    await p.opened;
    await p.until((m) => m.type === 'state');
    await deleteSlb(name);
    const closed = await p.closed;
    expect(typeof closed.code).toBe('number');
    await waitForGone(name);
  });
});
