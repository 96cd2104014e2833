// The demo end to end: created with the CLI, served through nginx, played over WebSockets while the
// sidecar counts the players.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../harness/paths.ts';
import {
  createSlb, deleteSlb, fetchRouted, getSlb, joinTwoPlayers, kubectl, publicBase, sidecarStatus, slbManifest, waitFor, waitForPhase,
} from './support.ts';

jest.setTimeout(300_000);

describe('the drop-four demo', () => {
  let name: string;
  let url: string;

  beforeAll(async () => {
    const cli = await execa(
      path.join(repoRoot, 'node_modules', 'node', 'bin', 'node'),
      [path.join(repoRoot, 'cli', 'src', 'main.ts'), 'create', '-f', '-', '--wait', '--timeout', '4m'],
      { input: JSON.stringify(slbManifest({ prefix: 'e2e-demo', gracePeriodSeconds: 600 })), env: { KUBECONFIG: process.env.KUBECONFIG } },
    );
    url = cli.stdout.trim().split('\n').pop()!;
    name = url.replace(/\/$/, '').split('/').pop()!;
  });

  afterAll(async () => {
    if (name) await deleteSlb(name);
  });

  test('the CLI waits for Ready and prints the public URL; kubectl get slbs shows both', async () => {
    expect(url).toBe(`${publicBase}/p/${name}/`);
    const row = await kubectl(['get', 'slbs', '-n', 'default', name, '--no-headers']);
    expect(row).toContain('Ready');
    expect(row).toContain(url);
    expect((await getSlb(name))?.status).toMatchObject({ phase: 'Ready', url });
  });

  test('nginx serves the page and its assets under /p/<name>/, the prefix stripped', async () => {
    const page = await fetchRouted(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<html');
    const assets = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      // The app serves /app.js; only a stripped prefix can reach it.
      const res = await fetch(new URL(asset, url));
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
    }
    expect((await fetch(`${url}no-such-file`)).status).toBe(404);
  });

  test('a malformed name is a bare 404; a well-formed unknown one gets the ended-session page (404), marked unresolved', async () => {
    const malformed = await fetch(`${publicBase}/p/Not_A_Name/`);
    expect(malformed.status).toBe(404);
    expect(malformed.headers.get('x-spawner-waiting')).toBeNull();
    // No Service by that name (nginx asks the cluster DNS): unknown or ended, not starting.
    const unknown = await fetch(`${publicBase}/p/e2e-nobody-here/`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-spawner-waiting')).toBe('unresolved');
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    expect(await unknown.text()).toContain('This session has ended or does not exist');
  });

  test('two WebSocket players play to a win while the sidecar counts 2 connections', async () => {
    await fetchRouted(url);
    const { red, yellow } = await joinTwoPlayers(name);
    try {
      const pod = (await getSlb(name))!.status!.podName!;
      const during = await waitFor(
        async () => {
          const s = await sidecarStatus(pod);
          return s.active_connections === 2 ? s : undefined;
        },
        { what: 'the sidecar to count 2 connections', timeoutMs: 60_000 },
      );
      expect(during).toMatchObject({ active_connections: 2, listening: true });
      const base = red.messages.find((m) => m.type === 'state')?.moves ?? 0;
      for (let turn = 0; turn < 7; turn++) {
        const mover = turn % 2 === 0 ? red : yellow;
        mover.ws.send(JSON.stringify({ type: 'move', column: turn % 2 === 0 ? 3 : 4 }));
        await red.until((m) => m.type === 'state' && m.moves === base + turn + 1);
      }
      const final = await yellow.until((m) => m.type === 'state' && m.moves === base + 7);
      expect(final.outcome).toMatchObject({ kind: 'win', winner: 'red' });
    } finally {
      red.ws.close();
      yellow.ws.close();
    }
  });
});

describe('a backend that is still starting', () => {
  let name: string;
  afterAll(async () => {
    if (name) await deleteSlb(name);
  });

  test('shows the waiting page through nginx while its app does not listen yet', async () => {
    // The app only starts listening after 10 minutes: the backend stays Pending meanwhile.
    name = await createSlb({
      prefix: 'e2e-slow',
      command: ['/usr/local/bin/node', '-e', "setTimeout(() => import('/app/demo/src/server.ts'), 600000)"],
    });
    await waitFor(async () => (await getSlb(name))?.status?.podName, { what: `${name} to have a Pod`, timeoutMs: 120_000 });
    const res = await waitFor(
      async () => {
        const r = await fetch(`${publicBase}/p/${name}/`);
        return r.status === 503 ? r : undefined;
      },
      { what: 'the waiting page', timeoutMs: 60_000 },
    );
    expect(await res.text()).toMatch(/<html/i);
    expect((await getSlb(name))?.status?.phase).toBe('Pending');
    await waitForPhase(name, 'Pending', 1000);
  });
});
