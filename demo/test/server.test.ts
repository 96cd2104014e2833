import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { createLogger } from '../../common/log.ts';
import { startServer, type RunningServer } from '../src/server.ts';

const DEADLINE_MS = 10_000;
// Each wait below has its own deadline; the test as a whole gets room for several on a loaded machine.
jest.setTimeout(60_000);

// A ws client that keeps every message, so a test can wait for the one it expects whatever the order.
class Player {
  readonly ws: WebSocket;
  readonly messages: any[] = [];
  private waiters: (() => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ws.on('close', () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  // Resolves with the first message at or after `from` matching `predicate`.
  async next(predicate: (m: any) => boolean, from = 0): Promise<any> {
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const found = this.messages.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(this.messages.slice(from))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  latestState(): any {
    return this.messages.filter((m) => m.type === 'state').at(-1);
  }

  // Sends a move and waits for its answer: an error, or a state whose last disc is this player's.
  // (The latest state seen may lag behind the opponent's move, so move counts alone would not do.)
  async drop(column: number): Promise<any> {
    const mark = this.messages.length;
    this.ws.send(JSON.stringify({ type: 'move', column }));
    const mine = (m: any) =>
      m.type === 'state' && m.lastMove !== null && m.board[m.lastMove.row][m.lastMove.column] === m.you && m.lastMove.column === column;
    return this.next((m) => m.type === 'error' || mine(m), mark);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

async function connect(url: string): Promise<Player> {
  const player = new Player(url);
  await new Promise<void>((resolve, reject) => {
    player.ws.once('open', () => resolve());
    player.ws.once('error', reject);
  });
  await player.next((m) => m.type === 'state');
  return player;
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const silent = createLogger('drop-four-test', 'silent');

describe('drop-four server', () => {
  let server: RunningServer;
  let base: string;
  let wsUrl: string;

  beforeAll(async () => {
    server = await startServer({ port: 0, host: '127.0.0.1', serveStatus: false, log: silent });
    base = `http://127.0.0.1:${server.port}`;
    wsUrl = `ws://127.0.0.1:${server.port}/ws`;
  });
  afterAll(async () => {
    await server.close();
  });

  test.each([
    ['/', 'text/html', '<title>drop-four</title>'],
    ['/p/drop-four-x7k2q/', 'text/html', 'src="app.js"'],
    ['/app.js', 'text/javascript', "new URL('ws', location.href)"],
    ['/p/drop-four-x7k2q/style.css', 'text/css', '.board'],
  ])('serves %s', async (path, type, needle) => {
    const res = await fetch(base + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain(type);
    expect(await res.text()).toContain(needle);
  });

  test.each(['/server.ts', '/../src/server.ts', '/package.json', '/status'])('answers 404 for %s', async (path) => {
    const res = await fetch(base + path);
    expect(res.status).toBe(404);
  });

  test('refuses a WebSocket on a path other than ws', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      ws.once('error', () => resolve('error'));
    });
    expect(outcome).toBe('404');
  });

  test('two players play a full game to a win; a third watches; a leaving player is announced', async () => {
    const red = await connect(wsUrl);
    const yellow = await connect(`ws://127.0.0.1:${server.port}/p/drop-four-x7k2q/ws`);
    const watcher = await connect(wsUrl);
    try {
      expect(red.latestState().you).toBe('red');
      await red.next((m) => m.type === 'player-joined' && m.colour === 'yellow');
      expect(yellow.latestState().you).toBe('yellow');
      expect(watcher.latestState().you).toBe('spectator');
      expect(watcher.latestState().players).toEqual({ red: true, yellow: true });

      // Moves that the server must refuse.
      expect(await yellow.drop(0)).toMatchObject({ type: 'error', error: 'not-your-turn' });
      expect(await watcher.drop(0)).toMatchObject({ type: 'error', error: 'not-a-player' });
      expect(await red.drop(7)).toMatchObject({ type: 'error', error: 'column-out-of-range' });
      let mark = red.messages.length;
      red.ws.send('{"type":"cheat"}');
      expect(await red.next((m) => m.type === 'error', mark)).toMatchObject({ error: 'bad-message' });
      mark = red.messages.length;
      red.ws.send('not json');
      expect(await red.next((m) => m.type === 'error', mark)).toMatchObject({ error: 'bad-message' });

      // Red stacks column 0, yellow column 1: red's fourth disc wins vertically.
      for (let i = 0; i < 3; i++) {
        expect(await red.drop(0)).toMatchObject({ type: 'state', outcome: { kind: 'playing' } });
        expect(await yellow.drop(1)).toMatchObject({ type: 'state', outcome: { kind: 'playing' } });
      }
      const final = await red.drop(0);
      expect(final.outcome).toEqual({
        kind: 'win',
        winner: 'red',
        line: [2, 3, 4, 5].map((row) => ({ row, column: 0 })),
      });
      for (const client of [yellow, watcher]) {
        const seen = await client.next((m) => m.type === 'state' && m.moves === 7);
        expect(seen.outcome).toMatchObject({ kind: 'win', winner: 'red' });
        expect(seen.board[5]).toEqual(['red', 'yellow', null, null, null, null, null]);
      }
      expect(await yellow.drop(2)).toMatchObject({ type: 'error', error: 'game-over' });

      // Either player can start the next game.
      mark = yellow.messages.length;
      yellow.ws.send(JSON.stringify({ type: 'restart' }));
      const fresh = await yellow.next((m) => m.type === 'state' && m.moves === 0, mark);
      expect(fresh.outcome).toEqual({ kind: 'playing' });
      expect(fresh.turn).toBe('yellow');

      // Yellow leaves: red is told, and the spectator takes the free seat.
      const redMark = red.messages.length;
      const watcherMark = watcher.messages.length;
      await yellow.close();
      expect(await red.next((m) => m.type === 'player-left', redMark)).toEqual({ type: 'player-left', colour: 'yellow' });
      const promoted = await watcher.next((m) => m.type === 'state' && m.you === 'yellow', watcherMark);
      expect(promoted.players).toEqual({ red: true, yellow: true });
      expect(promoted.spectators).toBe(0);
    } finally {
      await Promise.all([red.close(), yellow.close(), watcher.close()]);
    }
  });

  test('a player alone is told the opponent left and cannot move until someone joins', async () => {
    const a = await connect(wsUrl);
    const b = await connect(wsUrl);
    try {
      const mark = a.messages.length;
      await b.close();
      await a.next((m) => m.type === 'player-left', mark);
      const alone = await a.next((m) => m.type === 'state' && m.players.yellow === false, mark);
      expect(alone.you).toBe('red');
      expect(await a.drop(3)).toMatchObject({ type: 'error', error: 'waiting-for-opponent' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('GET /status (for pods without the sidecar)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ port: 0, host: '127.0.0.1', serveStatus: true, log: silent });
  });
  afterAll(async () => {
    await server.close();
  });

  const status = async () => (await fetch(`http://127.0.0.1:${server.port}/status`)).json() as Promise<Record<string, unknown>>;

  test('counts open WebSockets in the sidecar shape', async () => {
    const idle = await status();
    expect(Object.keys(idle).sort()).toEqual(['active_connections', 'listening', 'ready', 'seconds_inactive']);
    expect(idle).toMatchObject({ active_connections: 0, listening: true, ready: true });
    expect(typeof idle.seconds_inactive).toBe('number');

    const a = await connect(`ws://127.0.0.1:${server.port}/ws`);
    const b = await connect(`ws://127.0.0.1:${server.port}/ws`);
    const busy = await eventually(status, (s) => s.active_connections === 2);
    expect(busy).toMatchObject({ active_connections: 2, seconds_inactive: 0 });

    await a.close();
    await b.close();
    expect(await eventually(status, (s) => s.active_connections === 0)).toMatchObject({ active_connections: 0 });
  });
});

describe('start-up configuration', () => {
  const entry = fileURLToPath(new URL('../src/server.ts', import.meta.url));

  function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stderr }));
    });
  }

  test.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['SPAWNER_SERVE_STATUS', { PORT: '8080', SPAWNER_SERVE_STATUS: 'maybe' }],
  ])('a bad %s exits non-zero naming it', async (name, env) => {
    const { code, stderr } = await run(env);
    expect(code).not.toBe(0);
    expect(stderr).toContain(name);
  });
});
