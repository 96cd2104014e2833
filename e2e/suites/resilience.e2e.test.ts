// Crashes on a real node: the leading operator replica killed (the other one takes over and nothing
// leaks), and the kubelet restarted (running backends and their connections survive, status stays
// right). The kubelet test needs the harness's node (skipped on kind, where the kubelet is not ours).
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { current, restartComponent } from '../harness/cluster.ts';
import { defaultStateFile } from '../harness/paths.ts';
import { backendNamespace, createSlb, deleteSlb, fetchRouted, getSlb, joinTwoPlayers, kubectl, publicBase, waitFor, waitForGone, waitForPhase } from './support.ts';

jest.setTimeout(400_000);
const operatorNamespace = 'spawner-system';

async function leaseHolder(): Promise<string | undefined> {
  const out = await kubectl(['get', 'lease', '-n', operatorNamespace, 'spawner-operator', '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => '');
  return out.trim() || undefined;
}

async function operatorPods(): Promise<string[]> {
  const out = await kubectl(['get', 'pods', '-n', operatorNamespace, '-l', 'app.kubernetes.io/name=spawner-operator', '-o', 'jsonpath={.items[*].metadata.name}']);
  return out.split(/\s+/).filter(Boolean);
}

describe('the leading operator replica is killed', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await deleteSlb(name);
  });

  test('the other replica takes the Lease, runs new backends and cleans deleted ones', async () => {
    const leader = await waitFor(leaseHolder, { what: 'a Lease holder', timeoutMs: 120_000 });
    const pods = await operatorPods();
    expect(pods).toContain(leader);
    // A backend started before the crash and deleted right after it: its cleanup spans the takeover.
    const before = await createSlb({ prefix: 'e2e-before-crash', gracePeriodSeconds: 600 });
    created.push(before);
    await waitForPhase(before, 'Ready');

    await kubectl(['delete', 'pod', '-n', operatorNamespace, leader, '--grace-period=0', '--force', '--wait=false']);
    await deleteSlb(before);
    const during = await createSlb({ prefix: 'e2e-during-crash', gracePeriodSeconds: 600 });
    created.push(during);

    const next = await waitFor(
      async () => {
        const h = await leaseHolder();
        return h && h !== leader ? h : undefined;
      },
      { what: 'another replica to hold the Lease', timeoutMs: 180_000 },
    );
    expect(next).not.toBe(leader);
    await waitForPhase(during, 'Ready');
    await waitForGone(before);
    await deleteSlb(during);
    await waitForGone(during);
    // The Deployment replaces the killed replica; nothing of the two backends is left.
    const leftovers = await kubectl(['get', 'pods,services', '-n', backendNamespace, '-l', 'app.kubernetes.io/managed-by=spawner', '-o', 'name']);
    expect(leftovers.split('\n').filter((l) => l.includes(before) || l.includes(during))).toEqual([]);
  });
});

const harnessNode = current(defaultStateFile())?.node !== undefined;
const describeOnHarnessNode = harnessNode ? describe : describe.skip;
if (!harnessNode) console.warn('SKIPPING the kubelet restart test: the cluster is not the harness\'s real node (SPAWNER_CLUSTER_STATE)');

describeOnHarnessNode('the kubelet is restarted', () => {
  let name: string | undefined;
  afterAll(async () => {
    if (name) await deleteSlb(name);
    // A restarted kubelet probes every Pod's readiness afresh, after a random part of its period, and
    // until nginx's probe passes again its endpoint is gone and the NodePort refuses connections; that
    // can begin some seconds after the node reports Ready. The suites that run next need the router:
    // wait until it has answered through the NodePort without a break for three of its probe periods.
    const stableMs = 15_000;
    let answeringSince: number | undefined;
    await waitFor(
      async () => {
        let ok = false;
        try {
          ok = (await fetch(`${publicBase}/healthz`, { signal: AbortSignal.timeout(2_000) })).status === 200;
        } catch {
          ok = false;
        }
        answeringSince = ok ? (answeringSince ?? Date.now()) : undefined;
        return (answeringSince !== undefined && Date.now() - answeringSince >= stableMs) || undefined;
      },
      { what: `the router to answer through the NodePort for ${stableMs / 1000} s without a break`, timeoutMs: 180_000 },
    );
  });

  test('a running backend, its Pod and an open WebSocket survive, and the status stays Ready', async () => {
    name = await createSlb({ prefix: 'e2e-kubelet', gracePeriodSeconds: 600 });
    const ready = await waitForPhase(name, 'Ready');
    const podBefore = JSON.parse(await kubectl(['get', 'pod', '-n', backendNamespace, ready.status!.podName!, '-o', 'json'])) as {
      metadata: { uid: string };
    };
    await fetchRouted(`${ready.status!.url}`);
    const { red, yellow } = await joinTwoPlayers(ready.status!.url!);

    const phases = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        phases.add((await getSlb(name!))?.status?.phase ?? '(none)');
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    try {
      await restartComponent('kubelet', { stateFile: defaultStateFile(), log: () => undefined, timeoutMs: 180_000 });
      // Give the restarted kubelet time to resync the pod and report it (several status updates).
      await waitFor(
        async () => {
          const node = JSON.parse(await kubectl(['get', 'node', 'spawner-node', '-o', 'json'])) as {
            status: { conditions: { type: string; status: string; lastHeartbeatTime: string }[] };
          };
          const readyCond = node.status.conditions.find((c) => c.type === 'Ready');
          return readyCond?.status === 'True' && Date.parse(readyCond.lastHeartbeatTime) > Date.now() - 5_000;
        },
        { what: 'the node to report Ready again', timeoutMs: 120_000 },
      );
      // The same sockets still carry the game: red's move reaches yellow.
      const mark = yellow.messages.length;
      red.ws.send(JSON.stringify({ type: 'move', column: 0 }));
      const seen = await yellow.until((m) => m.type === 'state' && m.moves === 1, mark);
      expect(seen.moves).toBe(1);
    } finally {
      watching = false;
      await watcher;
      red.ws.close();
      yellow.ws.close();
    }
    const podAfter = JSON.parse(await kubectl(['get', 'pod', '-n', backendNamespace, ready.status!.podName!, '-o', 'json'])) as {
      metadata: { uid: string };
      status: { containerStatuses: { restartCount: number }[] };
    };
    expect(podAfter.metadata.uid).toBe(podBefore.metadata.uid);
    expect(podAfter.status.containerStatuses.map((c) => c.restartCount)).toEqual(podAfter.status.containerStatuses.map(() => 0));
    expect([...phases]).toEqual(['Ready']);
    expect((await getSlb(name))?.status?.phase).toBe('Ready');
  });
});
