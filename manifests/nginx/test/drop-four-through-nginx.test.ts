// The demo behind the real router: drop-four's page, assets and WebSocket all work under
// /p/<name>/ when nginx strips the prefix, which is how browsers reach it in a cluster.

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { WebSocket } from 'ws';
import { createLogger } from '../../../common/log.ts';
import { startServer, type RunningServer } from '../../../demo/src/server.ts';
import { findNginx, startNginx, type RunningNginx } from './nginx-harness.ts';
import { entry, startTestRouteService, type TestRouteService } from './route-harness.ts';

jest.setTimeout(60_000);
const DEADLINE_MS = 15_000;
const NAME = 'drop-four-x7k2q';

const nginxBinary = findNginx();
const describeWithNginx = nginxBinary ? describe : describe.skip;

// Collects a client's messages and waits for the one a step needs.
function client(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url, { headers });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const until = async (predicate: (m: any) => boolean, from = 0) => {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const found = messages.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message in ${JSON.stringify(messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { ws, messages, opened, until };
}

describeWithNginx('drop-four through nginx', () => {
  let game: RunningServer;
  let routes: TestRouteService;
  let nginx: RunningNginx;
  let token: string;

  beforeAll(async () => {
    game = await startServer({ port: 0, host: '127.0.0.1', serveStatus: false, log: createLogger('drop-four-test', 'silent') });
    routes = await startTestRouteService('games');
    const backend = entry(NAME, { port: game.port });
    routes.cache.set(backend);
    token = routes.tokenFor(backend);
    nginx = await startNginx(nginxBinary!, { namespace: 'games', routePort: routes.service.port });
  });

  afterAll(async () => {
    await nginx?.stop();
    await routes?.close();
    await game?.close();
  });

  // What a browser does with the invitation URL: the page with the token in the query, then its
  // relative assets and its WebSocket (`new URL('ws', location.href)` drops the query) with the cookie.
  test('the invitation URL loads the page; its assets load under the prefix with the cookie alone', async () => {
    const base = `http://127.0.0.1:${nginx.port}/p/${NAME}/`;
    const page = await fetch(`${base}?token=${token}`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toBe(`spawner_token=${token}`);
    const html = await page.text();
    // Every asset the page names is relative and loads under the prefix.
    const assets = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(['app.js', 'favicon.svg', 'style.css']);
    for (const asset of assets) {
      expect((await fetch(new URL(asset, base), { headers: { cookie } })).status).toBe(200);
      expect((await fetch(new URL(asset, base))).status).toBe(404);
    }
  });

  test('two players play to a win over WebSockets through nginx', async () => {
    const url = `ws://127.0.0.1:${nginx.port}/p/${NAME}/ws`;
    const red = client(url, { cookie: `spawner_token=${token}` });
    await red.opened;
    await red.until((m) => m.type === 'state' && m.you === 'red');
    const yellow = client(`${url}?token=${token}`);
    await yellow.opened;
    await yellow.until((m) => m.type === 'state' && m.you === 'yellow');
    try {
      // Red plays column 3 four times, yellow column 4: red's fourth disc wins.
      for (let turn = 0; turn < 7; turn++) {
        const mover = turn % 2 === 0 ? red : yellow;
        mover.ws.send(JSON.stringify({ type: 'move', column: turn % 2 === 0 ? 3 : 4 }));
        await red.until((m) => m.type === 'state' && m.moves === turn + 1);
      }
      const final = await yellow.until((m) => m.type === 'state' && m.moves === 7);
      expect(final.outcome).toMatchObject({ kind: 'win', winner: 'red' });
      const mark = red.messages.length;
      yellow.ws.close();
      expect(await red.until((m) => m.type === 'player-left', mark)).toEqual({ type: 'player-left', colour: 'yellow' });
    } finally {
      red.ws.close();
      yellow.ws.close();
    }
  });
});
