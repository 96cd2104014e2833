import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { createInformer, type Informer, type InformerEvent, type InformerOptions } from './informer.ts';
import { FakeApiServer } from './testing/fake-apiserver.ts';
import { eventually } from './testing/eventually.ts';
import { memoryLogger } from './testing/memlog.ts';

jest.setTimeout(60_000);

const PODS = { prefix: '/api/v1', plural: 'pods' };

function pod(name: string, labels: Record<string, string> = {}, namespace = 'ns'): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: { containers: [] } };
}

let fake: FakeApiServer;
let informers: Array<Informer<V1Pod>>;

beforeEach(async () => {
  fake = new FakeApiServer([PODS]);
  await fake.start();
  informers = [];
});

afterEach(async () => {
  for (const i of informers) i.stop();
  await fake.close();
});

function startInformer(extra: Partial<InformerOptions> = {}) {
  const { log, lines } = memoryLogger();
  const inf = createInformer<V1Pod>({
    kubeConfig: fake.kubeConfig(),
    path: '/api/v1/pods',
    log,
    backoffInitialMs: 10,
    backoffMaxMs: 100,
    ...extra,
  });
  informers.push(inf);
  const events: Array<InformerEvent<V1Pod>> = [];
  inf.onEvent((ev) => void events.push(ev));
  const summary = (types = ['add', 'update', 'delete']) =>
    events.filter((e) => types.includes(e.type)).map((e) => `${e.type} ${e.obj.metadata?.name}`);
  return { inf, events, summary, lines };
}

const names = (inf: Informer<V1Pod>) => inf.list().map((p) => p.metadata!.name).sort();

describe('informer', () => {
  test('lists page by page, then applies watch events to the cache in order', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) fake.create(PODS, pod(n));
    fake.pageSize = 2;
    const { inf, summary } = startInformer();
    await inf.start();
    expect(inf.hasSynced()).toBe(true);
    expect(names(inf)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(summary()).toEqual(['add a', 'add b', 'add c', 'add d', 'add e']);
    const listRequests = fake.countRequests('GET', (r) => r.path === '/api/v1/pods' && !r.query.get('watch'));
    expect(listRequests).toBe(3);

    await eventually(() => fake.openWatchCount() === 1, 'watch open');
    const watchReq = fake.requests.find((r) => r.query.get('watch') === 'true')!;
    expect(watchReq.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watchReq.query.get('timeoutSeconds'))).toBeGreaterThan(0);

    const b = fake.getObject(PODS, 'ns', 'b')!;
    fake.update(PODS, { ...b, metadata: { ...b.metadata, labels: { changed: 'yes' } } });
    fake.remove(PODS, 'ns', 'c');
    fake.create(PODS, pod('f'));
    await eventually(() => summary().length === 8, 'three watch events');
    expect(summary().slice(5)).toEqual(['update b', 'delete c', 'add f']);
    expect(names(inf)).toEqual(['a', 'b', 'd', 'e', 'f']);
    expect(inf.get('ns', 'b')?.metadata?.labels).toEqual({ changed: 'yes' });
    expect(inf.get('ns', 'c')).toBeUndefined();
    expect(inf.status().resourceVersion).toBe(fake.currentResourceVersion());
    expect(inf.status().lists).toBe(1);
  });

  test('passes the label selector to list and watch', async () => {
    fake.create(PODS, pod('mine', { app: 'x' }));
    fake.create(PODS, pod('other', { app: 'y' }));
    const { inf } = startInformer({ labelSelector: 'app=x' });
    await inf.start();
    fake.create(PODS, pod('mine-2', { app: 'x' }));
    fake.create(PODS, pod('other-2', { app: 'y' }));
    await eventually(() => inf.list().length === 2, 'second labelled pod');
    expect(names(inf)).toEqual(['mine', 'mine-2']);
  });

  test.each(['event', 'status'] as const)(
    '410 Gone (as %s) relists and reports the changes made during the gap, deletions included',
    async (mode) => {
      fake.goneMode = mode;
      for (const n of ['a', 'b', 'c']) fake.create(PODS, pod(n));
      const { inf, summary } = startInformer();
      await inf.start();
      await eventually(() => fake.openWatchCount() === 1, 'watch open');

      // The watch breaks and cannot be re-established for a while; meanwhile the world changes and the
      // server compacts its history past the informer's resourceVersion.
      fake.refuseWatches = true;
      const refusedBefore = fake.requests.length;
      fake.dropWatches();
      await eventually(() => fake.requests.length > refusedBefore, 'a refused watch attempt');
      const a = fake.getObject(PODS, 'ns', 'a')!;
      fake.update(PODS, { ...a, metadata: { ...a.metadata, labels: { v: '2' } } });
      fake.remove(PODS, 'ns', 'b');
      fake.create(PODS, pod('d'));
      fake.compact();
      fake.refuseWatches = false;

      await eventually(() => summary().length === 6, 'the relist diff');
      expect(summary().slice(3).sort()).toEqual(['add d', 'delete b', 'update a']);
      expect(names(inf)).toEqual(['a', 'c', 'd']);
      expect(inf.get('ns', 'a')?.metadata?.labels).toEqual({ v: '2' });
      expect(inf.status().restarts.gone).toBeGreaterThanOrEqual(1);
      expect(inf.status().lists).toBe(2);
      // The relist resumes watching: later changes still arrive.
      fake.create(PODS, pod('e'));
      await eventually(() => inf.get('ns', 'e') !== undefined, 'event after relist');
    },
  );

  test.each(['dropped', 'ended'] as const)('a watch connection that is %s is restarted from the last resourceVersion', async (how) => {
    fake.create(PODS, pod('a'));
    const { inf, summary } = startInformer();
    await inf.start();
    await eventually(() => fake.openWatchCount() === 1, 'watch open');
    fake.create(PODS, pod('b'));
    await eventually(() => inf.get('ns', 'b') !== undefined, 'b via the first watch');
    if (how === 'dropped') fake.dropWatches();
    else fake.endWatches();
    fake.create(PODS, pod('c'));
    await eventually(() => inf.get('ns', 'c') !== undefined, 'c via a restarted watch');
    const watches = fake.requests.filter((r) => r.query.get('watch') === 'true');
    expect(watches.length).toBeGreaterThanOrEqual(2);
    // No relist was needed, and nothing was reported twice.
    expect(inf.status().lists).toBe(1);
    expect(summary()).toEqual(['add a', 'add b', 'add c']);
    expect(watches.at(-1)!.query.get('resourceVersion')).not.toBe(watches[0]!.query.get('resourceVersion'));
  });

  test.each(['muted after connecting', 'never answering'] as const)(
    'the watchdog restarts a watch that is %s',
    async (how) => {
      fake.create(PODS, pod('a'));
      if (how === 'never answering') {
        let hungOnce = false;
        fake.faults.push((r) => {
          if (r.query.get('watch') !== 'true' || hungOnce) return undefined;
          hungOnce = true;
          return 'hang';
        });
      }
      // A long server-side timeout, so only the client's watchdog can end the silent watch.
      const { inf, lines } = startInformer({ silenceTimeoutMs: 300, watchTimeoutSeconds: 3600 });
      await inf.start();
      if (how === 'muted after connecting') {
        await eventually(() => fake.openWatchCount() === 1, 'watch open');
        fake.muteWatches();
      }
      fake.create(PODS, pod('b'));
      await eventually(() => inf.get('ns', 'b') !== undefined, 'b after the watchdog restart');
      expect(inf.status().restarts.silent).toBeGreaterThanOrEqual(1);
      expect(lines.some((l) => l.msg === 'watch silent too long; restarting it')).toBe(true);
    },
  );

  test('bookmarks advance the resourceVersion without touching the cache', async () => {
    fake.create(PODS, pod('a'));
    const { inf, events } = startInformer();
    await inf.start();
    await eventually(() => fake.openWatchCount() === 1, 'watch open');
    // Changes to another resource would advance the server's version; a bookmark carries it over.
    const before = inf.status().resourceVersion;
    fake.create(PODS, pod('tmp'));
    fake.remove(PODS, 'ns', 'tmp');
    await eventually(() => events.length === 3, 'add and delete of tmp');
    fake.bookmark();
    await eventually(() => inf.status().resourceVersion === fake.currentResourceVersion(), 'bookmark applied');
    expect(inf.status().resourceVersion).not.toBe(before);
    expect(events.length).toBe(3);
  });

  test('periodic resync emits every cached object', async () => {
    for (const n of ['a', 'b']) fake.create(PODS, pod(n));
    const { inf, events } = startInformer({ resyncMs: 30 });
    await inf.start();
    const resyncs = () => events.filter((e) => e.type === 'resync').map((e) => e.obj.metadata?.name);
    await eventually(() => resyncs().length >= 4, 'two resync rounds');
    expect(resyncs().filter((n) => n === 'a').length).toBeGreaterThanOrEqual(2);
    expect(resyncs().filter((n) => n === 'b').length).toBeGreaterThanOrEqual(2);
  });

  test('a throwing handler is logged with the object and does not stop other handlers or the watch', async () => {
    const { inf, lines } = startInformer();
    const seen: string[] = [];
    inf.on('add', () => {
      throw new Error('handler bug');
    });
    inf.on('add', async () => {
      throw new Error('async handler bug');
    });
    inf.on('add', (obj) => void seen.push(obj.metadata!.name!));
    await inf.start();
    fake.create(PODS, pod('a'));
    fake.create(PODS, pod('b'));
    await eventually(() => seen.length === 2, 'both adds reached the healthy handler');
    await eventually(() => lines.filter((l) => l.msg === 'informer event handler threw').length === 4, 'errors logged');
    const errs = lines.filter((l) => l.msg === 'informer event handler threw');
    expect(errs.map((l) => l.err).sort()).toEqual(['async handler bug', 'async handler bug', 'handler bug', 'handler bug']);
    expect(errs.map((l) => l.name).sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(errs.every((l) => l.namespace === 'ns' && l.level === 50)).toBe(true);
  });

  test('keeps retrying a failing list with backoff, and start resolves once it succeeds', async () => {
    let failures = 3;
    fake.faults.push((r) => (r.query.get('watch') !== 'true' && failures-- > 0 ? { status: 500 } : undefined));
    fake.create(PODS, pod('a'));
    const { inf, lines } = startInformer();
    await inf.start();
    expect(names(inf)).toEqual(['a']);
    expect(lines.filter((l) => l.msg === 'list/watch failed; retrying').length).toBe(3);
    expect(inf.isWedged()).toBe(false);
  });

  test('stop ends the watch, rejects a pending start and emits nothing more', async () => {
    fake.faults.push(() => ({ status: 500 }));
    const pending = startInformer();
    const started = pending.inf.start();
    pending.inf.stop();
    await expect(started).rejects.toThrow(/stopped before sync/);
    fake.faults.length = 0;

    const { inf, events } = startInformer();
    await inf.start();
    await eventually(() => fake.openWatchCount() === 1, 'watch open');
    inf.stop();
    await eventually(() => fake.openWatchCount() === 0, 'watch closed by stop');
    fake.create(PODS, pod('late'));
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual([]);
    expect(inf.status().state).toBe('stopped');
    await expect(inf.start()).rejects.toThrow(/stopped/);
  });
});
