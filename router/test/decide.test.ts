import { describe, expect, test } from '@jest/globals';
import {
  decideFromCache, decideFromFresh, listeningTargetOf, listeningVerdict, podToCheck, routeEntryOf, verdictOf, type PodLike, type RouteEntry,
} from '../src/decide.ts';

const UID = '0b6f1c2e-8f51-4a57-9a43-1d2e3f4a5b6c';
const OTHER = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const e = (over: Partial<RouteEntry> = {}): RouteEntry => ({ name: 'room', uid: UID, phase: 'Ready', deleting: false, podIP: '10.0.0.7', port: 8080, public: false, ...over });

describe('routeEntryOf', () => {
  const slb = (spec: Record<string, unknown>, status: Record<string, unknown> = { phase: 'Ready', podIP: '10.0.0.7' }, metadata: Record<string, unknown> = {}) => ({
    metadata: { name: 'room', uid: UID, ...metadata },
    spec,
    status,
  });
  test.each<[string, ReturnType<typeof slb>, boolean, Partial<RouteEntry>]>([
    ['the status names the port: it wins', slb({ httpPort: 3000 }, { phase: 'Ready', podIP: '10.0.0.7', podPort: 4000 }), true, { port: 4000 }],
    ['no podPort, the status records the Sidecar source', slb({ httpPort: 3000 }, { phase: 'Ready', podIP: '10.0.0.7', activitySource: 'Sidecar' }), false, { port: 9090 }],
    ['no podPort, the status records the Node source', slb({ httpPort: 3000 }, { phase: 'Ready', podIP: '10.0.0.7', activitySource: 'Node' }), true, { port: 3000 }],
    ['sidecar enabled: its proxy port', slb({ httpPort: 3000, sidecar: { enabled: true } }), false, { port: 9090 }],
    ['sidecar disabled: the app’s port', slb({ httpPort: 3000, sidecar: { enabled: false } }), true, { port: 3000 }],
    ['sidecar unset, the operator injects by default', slb({ httpPort: 3000 }), true, { port: 9090 }],
    ['sidecar unset, node mode by default', slb({ httpPort: 3000 }), false, { port: 3000 }],
    ['sidecar unset and no httpPort: the default 8080', slb({}), false, { port: 8080 }],
    ['public', slb({ access: 'Public' }), true, { public: true }],
    ['token by default', slb({}), true, { public: false }],
    ['no status yet: Pending', slb({}, {}), true, { phase: 'Pending', podIP: undefined }],
    ['an unknown phase reads as Pending', slb({}, { phase: 'Weird' }), true, { phase: 'Pending' }],
    ['being deleted', slb({}, { phase: 'Ready', podIP: '10.0.0.7' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }), true, { deleting: true }],
    ['the status names its Pod (a claimed member)', slb({}, { phase: 'Pending', podName: 'pool-x7k2p' }), true, { podName: 'pool-x7k2p' }],
    ['no Pod named yet', slb({}, { phase: 'Pending' }), true, { podName: undefined }],
    ['the status records the sidecar: certain', slb({}, { phase: 'Pending', activitySource: 'Sidecar' }), false, { sidecarCertain: true }],
    ['the status records node mode: certainly none', slb({ sidecar: { enabled: true } }, { phase: 'Pending', activitySource: 'Node' }), true, { sidecarCertain: false }],
    ['no record yet, the spec asks for it: certain', slb({ sidecar: { enabled: true } }, { phase: 'Pending' }), false, { sidecarCertain: true }],
    ['no record yet, only the default would say: not certain (the Pod decides)', slb({}, { phase: 'Pending' }), true, { sidecarCertain: false }],
  ])('%s', (_what, object, sidecarByDefault, expected) => {
    expect(routeEntryOf(object, { sidecarByDefault })).toMatchObject({ name: 'room', uid: UID, ...expected });
  });
});

describe('verdictOf', () => {
  test.each<[string, Partial<RouteEntry>, ReturnType<typeof verdictOf>]>([
    ['Ready with an address', {}, { kind: 'route', upstream: '10.0.0.7:8080' }],
    ['Ready with an IPv6 address', { podIP: 'fd00::7' }, { kind: 'route', upstream: '[fd00::7]:8080' }],
    ['Ready without an address yet', { podIP: undefined }, { kind: 'starting' }],
    ['Pending', { phase: 'Pending' }, { kind: 'starting' }],
    ['Failed', { phase: 'Failed' }, { kind: 'ended' }],
    ['Terminating', { phase: 'Terminating' }, { kind: 'ended' }],
    ['Ready but being deleted', { deleting: true }, { kind: 'ended' }],
  ])('%s', (_what, over, verdict) => {
    expect(verdictOf(e(over))).toEqual(verdict);
  });
});

describe('decideFromCache', () => {
  const valid = { valid: true, uid: UID };
  const invalid = { valid: false, uid: '' };
  const none = () => false;
  test.each<[string, RouteEntry | undefined, { valid: boolean; uid: string }, (uid: string) => boolean, ReturnType<typeof decideFromCache>]>([
    ['valid token, Ready: route without asking', e(), valid, none, { kind: 'route', upstream: '10.0.0.7:8080' }],
    ['valid token, Failed: ended at once', e({ phase: 'Failed' }), valid, none, { kind: 'ended' }],
    ['valid token, Terminating: ended at once', e({ phase: 'Terminating' }), valid, none, { kind: 'ended' }],
    ['valid token, Pending: the cache may be behind, look up', e({ phase: 'Pending' }), valid, none, 'lookup'],
    ['valid token, not cached: look up', undefined, valid, none, 'lookup'],
    ['valid token, cached under another uid: look up (which one is newer?)', e({ uid: OTHER }), valid, none, 'lookup'],
    ['valid token of a dead uid: ended, no lookup', undefined, valid, (u) => u === UID, { kind: 'ended' }],
    ['valid token of a dead uid, name re-created: ended, no lookup', e({ uid: OTHER }), valid, (u) => u === UID, { kind: 'ended' }],
    ['no valid token, Ready: ended (looks unknown)', e(), invalid, none, { kind: 'ended' }],
    ['no valid token, Pending: ended, never a lookup', e({ phase: 'Pending' }), invalid, none, { kind: 'ended' }],
    ['no valid token, not cached: ended, never a lookup', undefined, invalid, none, { kind: 'ended' }],
    ['no valid token, public and Ready: route', e({ public: true }), invalid, none, { kind: 'route', upstream: '10.0.0.7:8080' }],
    ['no valid token, public and Pending: starting', e({ public: true, phase: 'Pending' }), invalid, none, { kind: 'starting' }],
    ['no valid token, public and Failed: ended', e({ public: true, phase: 'Failed' }), invalid, none, { kind: 'ended' }],
  ])('%s', (_what, entry, token, dead, expected) => {
    expect(decideFromCache(entry, token, dead)).toEqual(expected);
  });
});

describe('decideFromFresh', () => {
  const valid = { valid: true, uid: UID };
  test.each<[string, RouteEntry | undefined, ReturnType<typeof decideFromFresh>]>([
    ['gone', undefined, { kind: 'ended' }],
    ['re-created under the same name', e({ uid: OTHER }), { kind: 'ended' }],
    ['Ready', e(), { kind: 'route', upstream: '10.0.0.7:8080' }],
    ['still Pending', e({ phase: 'Pending' }), { kind: 'starting' }],
    ['Failed', e({ phase: 'Failed' }), { kind: 'ended' }],
  ])('%s', (_what, fresh, expected) => {
    expect(decideFromFresh(fresh, valid)).toEqual(expected);
  });
});

describe('listening is routable before Ready', () => {
  const pending = e({ phase: 'Pending', podIP: undefined });
  test.each<[string, RouteEntry, string | undefined]>([
    ['Pending, no Pod named yet: the Pod named after the backend (a cold start)', pending, 'room'],
    ['Pending, status.podName set: that Pod', e({ phase: 'Pending', podName: 'pool-x7k2p' }), 'pool-x7k2p'],
    ['Ready: nothing to check (the cache routes it)', e(), undefined],
    ['Failed: nothing to check', e({ phase: 'Failed' }), undefined],
    ['Terminating: nothing to check', e({ phase: 'Terminating' }), undefined],
    ['Pending but being deleted: nothing to check', e({ phase: 'Pending', deleting: true }), undefined],
    ['Pending with the sidecar for certain: nothing to check (its Pod is never marked)', e({ phase: 'Pending', sidecarCertain: true }), undefined],
  ])('the Pod to check: %s', (_what, entry, expected) => {
    expect(podToCheck(entry)).toBe(expected);
  });

  const pod = (over: { owner?: { uid?: string; controller?: boolean }[]; annotations?: Record<string, string>; podIP?: string; phase?: string; deletionTimestamp?: string } = {}): PodLike => ({
    metadata: {
      name: 'room',
      ownerReferences: 'owner' in over ? over.owner : [{ uid: UID, controller: true }],
      annotations: 'annotations' in over ? over.annotations : { 'spawner.dev/activity-source': 'Node', 'spawner.dev/routable-when-listening': '8080' },
      ...(over.deletionTimestamp ? { deletionTimestamp: over.deletionTimestamp } : {}),
    },
    status: { phase: over.phase ?? 'Running', podIP: 'podIP' in over ? over.podIP : '10.0.0.9' },
  });
  test.each<[string, PodLike | undefined, ReturnType<typeof listeningTargetOf>]>([
    ['the backend’s marked Pod with an address: connect to the marked port', pod(), { kind: 'connect', host: '10.0.0.9', port: 8080 }],
    ['the mark names another port than the entry’s: the mark’s', pod({ annotations: { 'spawner.dev/routable-when-listening': '3000' } }), { kind: 'connect', host: '10.0.0.9', port: 3000 }],
    ['still Pending (containers starting) is fine: the connect decides', pod({ phase: 'Pending' }), { kind: 'connect', host: '10.0.0.9', port: 8080 }],
    ['the controller’s uid in upper case (uids compare as tokens name them)', pod({ owner: [{ uid: UID.toUpperCase(), controller: true }] }), { kind: 'connect', host: '10.0.0.9', port: 8080 }],
    ['no such Pod', undefined, { kind: 'skip', why: 'no-pod' }],
    ['controlled by another backend (a re-created name’s old Pod)', pod({ owner: [{ uid: OTHER, controller: true }] }), { kind: 'skip', why: 'not-controlled' }],
    ['owned by the backend but not as controller', pod({ owner: [{ uid: UID }] }), { kind: 'skip', why: 'not-controlled' }],
    ['controlled by a pool (an unclaimed member)', pod({ owner: [{ uid: OTHER, controller: true }, { uid: UID, controller: false }] }), { kind: 'skip', why: 'not-controlled' }],
    ['no owner at all', pod({ owner: undefined }), { kind: 'skip', why: 'not-controlled' }],
    ['no mark: the sidecar’s Pod (it listens before the app)', pod({ annotations: { 'spawner.dev/activity-source': 'Sidecar' } }), { kind: 'skip', why: 'not-marked' }],
    ['no annotations at all (made before the mark existed, or the user’s probe decides)', pod({ annotations: undefined }), { kind: 'skip', why: 'not-marked' }],
    ['a mark that is not a port', pod({ annotations: { 'spawner.dev/routable-when-listening': 'http' } }), { kind: 'skip', why: 'not-marked' }],
    ['no address yet', pod({ podIP: undefined }), { kind: 'skip', why: 'no-address' }],
    ['being deleted', pod({ deletionTimestamp: '2026-01-01T00:00:00Z' }), { kind: 'skip', why: 'deleting' }],
    ['its containers exited', pod({ phase: 'Failed' }), { kind: 'skip', why: 'finished' }],
    ['its containers completed', pod({ phase: 'Succeeded' }), { kind: 'skip', why: 'finished' }],
  ])('which Pod qualifies: %s', (_what, p, expected) => {
    expect(listeningTargetOf(p, pending)).toEqual(expected);
  });

  test.each<[string, { host: string; port: number }, boolean, ReturnType<typeof listeningVerdict>]>([
    ['connected: route to the Pod’s port', { host: '10.0.0.9', port: 8080 }, true, { kind: 'route', upstream: '10.0.0.9:8080' }],
    ['connected over IPv6: bracketed', { host: 'fd00::9', port: 8080 }, true, { kind: 'route', upstream: '[fd00::9]:8080' }],
    ['not connected: starting', { host: '10.0.0.9', port: 8080 }, false, { kind: 'starting' }],
  ])('the verdict: %s', (_what, target, connected, expected) => {
    expect(listeningVerdict(target, connected)).toEqual(expected);
  });
});
