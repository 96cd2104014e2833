import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { ChildCache, LatestWrites } from './children.ts';

const pod = (name: string, uid: string, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({ metadata: { name, namespace: 'ns', uid, ...extra } });

describe('ChildCache: the informer cache corrected by our own recent writes', () => {
  test('a create not yet seen by the informer is seen through the cache until the informer catches up or the memory expires', () => {
    const informer = new Map<string, V1Pod>();
    const cache = new ChildCache<V1Pod>((ns, n) => informer.get(`${ns}/${n}`), { ttlMs: 1000 });
    expect(cache.get('ns', 'a', 0)).toBeUndefined();
    cache.rememberCreated(pod('a', 'u1'), 0);
    expect(cache.get('ns', 'a', 500)?.metadata?.uid).toBe('u1');
    expect(cache.get('ns', 'a', 1001)).toBeUndefined(); // never seen: the create is forgotten
    cache.rememberCreated(pod('a', 'u2'), 2000);
    informer.set('ns/a', pod('a', 'u2', { resourceVersion: '9' }));
    expect(cache.get('ns', 'a', 2001)?.metadata?.resourceVersion).toBe('9'); // the informer's copy wins
  });

  test('what is remembered of a create is trimmed like the informer trims', () => {
    const cache = new ChildCache<V1Pod>(() => undefined, { slim: (p) => ({ metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace } }) });
    cache.rememberCreated(pod('a', 'u1', { managedFields: [{ manager: 'x' }] }));
    expect(cache.get('ns', 'a')).toEqual({ metadata: { name: 'a', namespace: 'ns' } });
  });

  test('a requested delete is remembered by uid for the ttl', () => {
    const cache = new ChildCache<V1Pod>(() => undefined, { ttlMs: 1000 });
    cache.rememberDeleted('u1', 0);
    expect(cache.deleteRequested('u1')).toBe(true);
    expect(cache.deleteRequested('u2')).toBe(false);
    expect(cache.deleteRequested(undefined)).toBe(false);
    cache.rememberDeleted('u2', 1500); // expired entries go on the next write
    expect(cache.deleteRequested('u1')).toBe(false);
  });
});

describe('LatestWrites: our patch stands in for the version it superseded', () => {
  test('a chain of patches resolves to the latest until the cache moves past them', () => {
    const w = new LatestWrites<V1Pod>();
    const v1 = pod('a', 'u', { resourceVersion: '1' });
    const v2 = pod('a', 'u', { resourceVersion: '2', managedFields: [{ manager: 'x' }] });
    const v3 = pod('a', 'u', { resourceVersion: '3' });
    w.remember(v1, v2);
    w.remember(v2, v3);
    expect(w.resolve(v1).metadata?.resourceVersion).toBe('3');
    expect(w.resolve(v2).metadata?.resourceVersion).toBe('3');
    const v4 = pod('a', 'u', { resourceVersion: '4' });
    expect(w.resolve(v4)).toBe(v4); // the cache moved on
    expect(w.resolve(v1)).toBe(v1); // and the memory is gone
  });

  test('the patch answer is kept without managedFields', () => {
    const w = new LatestWrites<V1Pod>();
    w.remember(pod('a', 'u', { resourceVersion: '1' }), pod('a', 'u', { resourceVersion: '2', managedFields: [{ manager: 'x' }] }));
    expect(w.resolve(pod('a', 'u', { resourceVersion: '1' })).metadata?.managedFields).toBeUndefined();
  });
});
