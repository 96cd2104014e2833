// Node mode on the real node (the deployed default): the backend's Pod holds only the app, and the
// sweeper DaemonSet — unprivileged, with hostPID — counts its connections from the node. Plain requests
// through nginx keep a backend alive; the kubelet's probes never do; a restarted sweeper starts the
// countdown again. (A WebSocket held open in node mode: sweep.e2e.test.ts. The sidecar mode, asked for
// per backend: sweep.e2e.test.ts and cold-start/density benchmarks.) The only time bounds asserted are
// lower ones: never swept early.
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { podUidOfCgroup } from '../../sweeper/src/node/proc-net.ts';
import { backendNamespace, createSlb, deleteSlb, eventsFor, fetchRouted, getSlb, kubectl, waitFor, waitForGone, waitForPhase } from './support.ts';

jest.setTimeout(300_000);

let created: string[] = [];
afterEach(async () => {
  for (const name of created) await deleteSlb(name).catch(() => {});
  created = [];
});

async function backend(o: Parameters<typeof createSlb>[0]): Promise<string> {
  const name = await createSlb(o);
  created.push(name);
  return name;
}

async function idleEvent(name: string): Promise<{ message: string }> {
  return waitFor(async () => (await eventsFor(name)).find((e) => e.reason === 'Idle'), { what: `an Idle Event for ${name}`, timeoutMs: 30_000 });
}

const secondsIdle = (message: string) => Number(/no connection for (\d+)s/.exec(message)?.[1]);

describe('node mode on the real node', () => {
  test("the Pod holds only the app, probed on its port; status records the mode and the Pod's UID", async () => {
    const name = await backend({ prefix: 'e2e-node-pod', gracePeriodSeconds: 300 });
    const ready = await waitForPhase(name, 'Ready');
    const pod = JSON.parse(await kubectl(['get', 'pod', '-n', backendNamespace, ready.status!.podName!, '-o', 'json'])) as {
      metadata: { uid: string; annotations?: Record<string, string> };
      spec: { containers: Array<{ name: string; startupProbe?: unknown; readinessProbe?: unknown }> };
    };
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec.containers[0]!.startupProbe).toMatchObject({ tcpSocket: { port: 8080 }, periodSeconds: 1 });
    expect(pod.spec.containers[0]!.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
    expect(pod.metadata.annotations?.['spawner.dev/activity-source']).toBe('Node');
    expect(ready.status).toMatchObject({ activitySource: 'Node', podUID: pod.metadata.uid });
  });

  test('the sweeper runs in the node PID namespace as user 65532 with no capability', async () => {
    const sweeper = JSON.parse(await kubectl(['get', 'pods', '-n', 'spawner-system', '-l', 'app.kubernetes.io/name=spawner-sweeper', '-o', 'json'])) as {
      items: Array<{ metadata: { uid: string }; spec: { hostPID?: boolean } }>;
    };
    expect(sweeper.items.length).toBeGreaterThan(0);
    const item = sweeper.items[0]!;
    expect(item.spec.hostPID).toBe(true);
    // Its process, as the node sees it (this suite runs on the node).
    const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    const mine = pids.filter((p) => {
      try {
        return podUidOfCgroup(readFileSync(`/proc/${p}/cgroup`, 'utf8')) === item.metadata.uid && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('node');
      } catch {
        return false;
      }
    });
    expect(mine.length).toBeGreaterThan(0);
    const status = readFileSync(`/proc/${mine[0]}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual(['65532', '65532', '65532', '65532']);
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(new RegExp(`^${set}:\\s+0+$`, 'm').test(status)).toBe(true);
  });

  test('(2) a plain request through nginx every grace/2 keeps the backend; once they stop it is swept, never early', async () => {
    const grace = 6;
    const name = await backend({ prefix: 'e2e-node-http', gracePeriodSeconds: grace });
    const ready = await waitForPhase(name, 'Ready');
    const until = Date.now() + 4 * grace * 1000;
    let last = 0;
    while (Date.now() < until) {
      last = Date.now();
      const res = await fetchRouted(ready.status!.url!);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect((await getSlb(name))?.metadata.deletionTimestamp).toBeUndefined();
      await sleep((grace * 1000) / 2);
    }
    await waitForGone(name, 120_000);
    expect(Date.now()).toBeGreaterThanOrEqual(last + grace * 1000);
    expect(secondsIdle((await idleEvent(name)).message)).toBeGreaterThanOrEqual(grace);
    created = created.filter((n) => n !== name);
  });

  test("(3) a backend nobody uses is swept on its grace period although the kubelet probes it every second", async () => {
    const grace = 5;
    const name = await backend({
      prefix: 'e2e-node-probed',
      gracePeriodSeconds: grace,
      // An HTTP readiness probe every second: a request from the node's address each time.
      readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
    });
    await waitForPhase(name, 'Ready');
    await waitForGone(name, 120_000);
    expect(secondsIdle((await idleEvent(name)).message)).toBeGreaterThanOrEqual(grace);
    created = created.filter((n) => n !== name);
  });

  test('(4) a restarted sweeper cannot know how long a backend was idle: its countdown starts again', async () => {
    const grace = 8;
    const name = await backend({ prefix: 'e2e-node-restart', gracePeriodSeconds: grace });
    const ready = await waitForPhase(name, 'Ready');
    await (await fetchRouted(ready.status!.url!)).arrayBuffer();
    await sleep(2000);
    const restartedAt = Date.now();
    await kubectl(['delete', 'pod', '-n', 'spawner-system', '-l', 'app.kubernetes.io/name=spawner-sweeper', '--wait=false']);
    await waitForGone(name, 180_000);
    expect(Date.now()).toBeGreaterThanOrEqual(restartedAt + grace * 1000);
    await kubectl(['rollout', 'status', '-n', 'spawner-system', 'daemonset/spawner-sweeper', '--timeout=120s']);
    created = created.filter((n) => n !== name);
  });
});
