// The router on the real node: the invitation URL (with its token) plays drop-four in Chromium while the
// URL without the token shows the ended page; a WebSocket opened the instant a watch sees Ready gets in,
// every time (one at a time and several at once); a backend outside the routed namespace gets no URL
// and says why; and a backend that fails is ended at once, WebSockets told so with a 4404 close.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { chromium, type Browser } from 'playwright-core';
import WebSocket from 'ws';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { createLogger } from '../../common/log.ts';
import { findChromium } from '../harness/chromium.ts';
import {
  backendNamespace, createSlb, deleteSlb, e2eLabel, getSlb, kubectl, publicBase, slbManifest, waitFor, waitForPhase, wsUrl, type Slb,
} from './support.ts';

jest.setTimeout(600_000);
const STEP_MS = 60_000;

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('SKIPPING the router’s browser e2e test: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)');
const testWithBrowser = chromiumPath ? test : test.skip;

const created: Array<{ name: string; namespace: string }> = [];
afterAll(async () => {
  for (const { name, namespace } of created) await kubectl(['delete', 'slb', '-n', namespace, name, '--ignore-not-found', '--wait=false']);
});

async function make(prefix: string, extra: Partial<Parameters<typeof slbManifest>[0]> = {}): Promise<string> {
  const name = await createSlb({ prefix, gracePeriodSeconds: 300, ...extra });
  created.push({ name, namespace: backendNamespace });
  return name;
}

describe('the invitation', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (chromiumPath) browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => browser?.close());

  testWithBrowser('the tokened URL plays drop-four; the same URL without the token shows the ended page', async () => {
    const name = await make('e2e-invite');
    const url = (await waitForPhase(name, 'Ready')).status!.url!;
    expect(new URL(url).searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{44}$/);

    const red = await browser.newPage();
    expect((await red.goto(url))?.status()).toBe(200);
    await red.locator('#connection', { hasText: /^Connected$/ }).waitFor({ timeout: STEP_MS });
    const yellowContext = await browser.newContext();
    const yellow = await yellowContext.newPage();
    await yellow.goto(url);
    await yellow.locator('#you', { hasText: /^You play Yellow\.$/ }).waitFor({ timeout: STEP_MS });
    await red.getByRole('button', { name: /^Column 4,/ }).click();
    await yellow.locator('.cell[data-disc]').first().waitFor({ timeout: STEP_MS });

    const strangerContext = await browser.newContext();
    const stranger = await strangerContext.newPage();
    const refused = await stranger.goto(`${publicBase}/p/${name}/`);
    expect(refused?.status()).toBe(404);
    await stranger.getByRole('heading', { name: 'This session has ended or does not exist' }).waitFor({ timeout: STEP_MS });
    await Promise.all([red.close(), yellowContext.close(), strangerContext.close()]);
  });
});

describe('Ready means routable', () => {
  // Opens a WebSocket to the backend the instant the watch shows it Ready: no retry, no delay.
  async function firstSocketsAfterReady(count: number, atOnce: boolean): Promise<Array<{ name: string; outcome: string }>> {
    const kc = await loadKubeAccess(process.env.KUBECONFIG!);
    const outcomes = new Map<string, Promise<string>>();
    type Watched = { metadata: { name: string }; status?: { phase?: string; url?: string } };
    const informer = createInformer<Watched>({
      kubeConfig: kc,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${backendNamespace}/${PLURAL}`,
      labelSelector: `${e2eLabel}=true`,
      log: createLogger('e2e', 'silent'),
      name: 'e2e-router-slbs',
    });
    const wanted = new Set<string>();
    informer.onEvent(({ obj }) => {
      const name = obj.metadata.name;
      if (!wanted.has(name) || outcomes.has(name) || obj.status?.phase !== 'Ready') return;
      const ws = new WebSocket(wsUrl(obj.status.url!));
      outcomes.set(
        name,
        new Promise<string>((resolve) => {
          const done = (o: string) => (ws.terminate(), resolve(o));
          // drop-four speaks first on a new socket (player-joined, then the state): the app answered.
          ws.once('message', (data) => done(typeof JSON.parse(data.toString()).type === 'string' ? 'ok' : `first message ${data.toString().slice(0, 80)}`));
          ws.once('unexpected-response', (_req, res) => done(`refused ${res.statusCode} ${res.headers['x-spawner-waiting'] ?? ''}`));
          ws.once('close', (code) => done(`closed ${code}`));
          ws.once('error', (err) => done(err.message));
        }),
      );
    });
    await informer.start();
    try {
      const names: string[] = [];
      const one = async () => {
        const name = await make('e2e-ready');
        wanted.add(name);
        names.push(name);
        return name;
      };
      if (atOnce) await Promise.all(Array.from({ length: count }, one));
      for (let i = 0; !atOnce && i < count; i++) {
        const name = await one();
        await (await waitFor(() => outcomes.get(name), { what: `${name} to be Ready and tried`, timeoutMs: 180_000, intervalMs: 20 }));
      }
      await waitFor(() => names.every((n) => outcomes.has(n)), { what: 'every backend to be Ready and tried', timeoutMs: 300_000, intervalMs: 50 });
      const result = await Promise.all(names.map(async (name) => ({ name, outcome: await outcomes.get(name)! })));
      for (const name of names) await deleteSlb(name);
      return result;
    } finally {
      informer.stop();
    }
  }

  test('5 backends one at a time: each one’s first WebSocket, opened the instant Ready is seen, gets in', async () => {
    const result = await firstSocketsAfterReady(5, false);
    expect(result.filter((r) => r.outcome !== 'ok')).toEqual([]);
  });

  test('10 backends created at once: the same', async () => {
    const result = await firstSocketsAfterReady(10, true);
    expect(result.filter((r) => r.outcome !== 'ok')).toEqual([]);
  });
});

describe('the backends’ namespace', () => {
  test('a backend created in a namespace the router does not serve runs, gets no URL, and says why', async () => {
    const manifest = slbManifest({ prefix: 'e2e-elsewhere' }) as { metadata: { namespace?: string } };
    manifest.metadata.namespace = 'default';
    const name = await kubectl(['create', '-o', 'jsonpath={.metadata.name}', '-f', '-'], { input: JSON.stringify(manifest) });
    created.push({ name, namespace: 'default' });
    const slb = await waitFor(
      async () => {
        const s = JSON.parse(await kubectl(['get', 'slb', '-n', 'default', name, '-o', 'json'])) as Slb;
        return s.status?.phase === 'Ready' ? s : undefined;
      },
      { what: `${name} to be Ready in default`, timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(slb.status?.url).toBeUndefined();
    expect(slb.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Routable', status: 'False', reason: 'NamespaceNotRouted', message: expect.stringContaining(backendNamespace) }),
    );
  });
});

describe('ended means ended', () => {
  test('a backend whose Pod fails: the ended page at once, its open WebSocket closed, a new one told 4404', async () => {
    const name = await make('e2e-ending');
    const url = (await waitForPhase(name, 'Ready')).status!.url!;
    const ws = new WebSocket(wsUrl(url));
    await new Promise<void>((resolve, reject) => (ws.once('message', () => resolve()), ws.once('error', reject)));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));

    const pod = (await getSlb(name))!.status!.podName!;
    await kubectl(['delete', 'pod', '-n', backendNamespace, pod, '--grace-period=1', '--wait=false']);
    await waitForPhase(name, 'Failed');
    expect(typeof (await closed)).toBe('number');

    const page = await fetch(url);
    expect({ status: page.status, marker: page.headers.get('x-spawner-waiting') }).toEqual({ status: 404, marker: 'ended' });
    const late = new WebSocket(wsUrl(url));
    const outcome = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      late.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      late.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    });
    expect(outcome).toEqual({ code: 4404, reason: 'session ended or does not exist' });
  });
});
