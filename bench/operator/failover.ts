// Leader failover, as a rolling update and a crash see it: a standby replica is started and has seen the
// leader; then the leader gets SIGTERM (it releases its Lease on the way out) or SIGKILL (it cannot, and
// the Lease must expire), and the time until the standby logs that it works its queues is measured on
// the standby's own log clock (the same machine's clock as the benchmark's).
import { waitFor } from '../../e2e/harness/kube.ts';
import type { OperatorProcess } from '../../operator/test/support/operator-process.ts';

export interface FailoverResult {
  gracefulMs: number[]; // SIGTERM sent → standby leading
  crashMs: number[]; // SIGKILL sent → standby leading
  leader: OperatorProcess; // who leads at the end
}

const LEADING = 'leading: working the queues';

function loggedAt(p: OperatorProcess, msg: string, extra: Record<string, unknown> = {}): number | undefined {
  const line = p.logLines().find((l) => l.msg === msg && Object.entries(extra).every(([k, v]) => l[k] === v));
  return line ? Date.parse(String(line.time)) : undefined;
}

async function standbyFor(leader: OperatorProcess, start: (identity: string) => Promise<OperatorProcess>, identity: string): Promise<OperatorProcess> {
  const standby = await start(identity);
  await standby.ready(300_000);
  // Campaigning: it has read (or watched) the Lease and seen who holds it.
  await waitFor(() => loggedAt(standby, 'new leader observed', { leader: leader.identity }) !== undefined || undefined, {
    what: `${identity} to observe ${leader.identity} leading`,
    timeoutMs: 120_000,
    intervalMs: 50,
    failFast: () => standby.exited(),
  });
  return standby;
}

async function takeover(standby: OperatorProcess, since: number): Promise<number> {
  const at = await waitFor(() => loggedAt(standby, LEADING), {
    what: `${standby.identity} to lead`,
    timeoutMs: 120_000,
    intervalMs: 20,
    failFast: () => standby.exited(),
  });
  return at - since;
}

export async function measureFailover(
  leader: OperatorProcess,
  start: (identity: string) => Promise<OperatorProcess>,
  rounds: number,
  log: (line: string) => void,
): Promise<FailoverResult> {
  const gracefulMs: number[] = [];
  const crashMs: number[] = [];
  let current = leader;
  for (let round = 0; round < rounds; round++) {
    const a = await standbyFor(current, start, `standby-${round}-a`);
    const termAt = Date.now();
    await current.stop();
    gracefulMs.push(await takeover(a, termAt));
    log(`failover round ${round + 1}: SIGTERM ${current.identity} → ${a.identity} leading in ${gracefulMs.at(-1)} ms`);
    current = a;

    const b = await standbyFor(current, start, `standby-${round}-b`);
    const killAt = Date.now();
    await current.kill('SIGKILL');
    crashMs.push(await takeover(b, killAt));
    log(`failover round ${round + 1}: SIGKILL ${current.identity} → ${b.identity} leading in ${crashMs.at(-1)} ms`);
    current = b;
  }
  return { gracefulMs, crashMs, leader: current };
}
