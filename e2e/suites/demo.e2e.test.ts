// The demo end to end: created with the CLI, served through nginx, played over WebSockets while its
// connections are counted (from the node: the deployed default has no sidecar).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../harness/paths.ts';
import {
  accessUrl, activityOf, backendNamespace, createSlb, deleteSlb, fetchRouted, getSlb, joinTwoPlayers, kubectl, publicBase, slbManifest, waitFor, waitForPhase,
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
    name = new URL(url).pathname.split('/')[2]!;
  });

  afterAll(async () => {
    if (name) await deleteSlb(name);
  });

  test('the CLI waits for Ready and prints the public URL with its token; kubectl get slbs shows both', async () => {
    expect(url).toMatch(new RegExp(`^${publicBase}/p/${name}/\\?token=[A-Za-z0-9_-]{44}$`));
    const row = await kubectl(['get', 'slbs', '-n', backendNamespace, name, '--no-headers']);
    expect(row).toContain('Ready');
    expect(row).toContain(url);
    expect((await getSlb(name))?.status).toMatchObject({ phase: 'Ready', url });
  });

  test('nginx serves the page under /p/<name>/, the prefix stripped, and its assets with the cookie the page set', async () => {
    const page = await fetchRouted(url);
    expect(page.status).toBe(200);
    // The relative URLs below drop the query, as a browser's do: the cookie carries the token.
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toBe(`spawner_token=${new URL(url).searchParams.get('token')}`);
    const html = await page.text();
    expect(html).toContain('<html');
    const assets = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      // The app serves /app.js; only a stripped prefix can reach it.
      const res = await fetch(new URL(asset, url), { headers: { cookie } });
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
    }
    expect((await fetch(new URL('no-such-file', url), { headers: { cookie } })).status).toBe(404);
  });

  test('a malformed name is a bare 404; an unknown name and this backend without its token get the one ended-session page', async () => {
    const malformed = await fetch(`${publicBase}/p/Not_A_Name/`);
    expect(malformed.status).toBe(404);
    expect(malformed.headers.get('x-spawner-waiting')).toBeNull();
    const unknown = await fetch(`${publicBase}/p/e2e-nobody-here/`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-spawner-waiting')).toBe('ended');
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    const page = await unknown.text();
    expect(page).toContain('This session has ended or does not exist');
    for (const other of [`${publicBase}/p/${name}/`, `${publicBase}/p/${name}/?token=${'A'.repeat(44)}`]) {
      const refused = await fetch(other);
      expect({ status: refused.status, marker: refused.headers.get('x-spawner-waiting') }).toEqual({ status: 404, marker: 'ended' });
      expect(await refused.text()).toBe(page);
    }
  });

  test('two WebSocket players play to a win while 2 connections are counted (from the node)', async () => {
    await fetchRouted(url);
    const { red, yellow } = await joinTwoPlayers(url);
    try {
      const slb = (await getSlb(name))!;
      expect(slb.status?.activitySource).toBe('Node');
      const during = await waitFor(
        async () => {
          const s = await activityOf(slb);
          return s.active_connections === 2 ? s : undefined;
        },
        { what: '2 connections to be counted', timeoutMs: 60_000 },
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
        // Its status has no URL before Ready; a link handed out early (POST /init does) has the token.
        const r = await fetch(await accessUrl(name));
        return r.status === 503 ? r : undefined;
      },
      { what: 'the waiting page', timeoutMs: 60_000 },
    );
    expect(await res.text()).toMatch(/<html/i);
    expect((await getSlb(name))?.status?.phase).toBe('Pending');
    await waitForPhase(name, 'Pending', 1000);
  });
});
