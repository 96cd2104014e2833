// A Sweeper wired to a recording API and to loopback fake sidecars (one per backend), fed SLBs the way
// the informer would feed it. Used by the countdown tests and the benchmark.

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { BackoffPolicy } from '../../../common/kube/backoff.ts';
import { objectKey } from '../../../common/kube/owners.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import { activityEndpoint, type ActivityEndpoint } from '../../src/slb.ts';
import { Sweeper } from '../../src/sweeper.ts';
import { FakeSidecar } from './fake-sidecar.ts';
import { RecordingApi } from './recording-api.ts';
import { makeSlb, NODE, type SlbShape } from './slbs.ts';

export interface HarnessOptions {
  deadAfterMs?: number;
  pollIntervalMs?: number;
  backoff?: BackoffPolicy;
  heartbeatMs?: number;
  logLevel?: string;
}

export class Harness {
  readonly api = new RecordingApi();
  readonly sweeper: Sweeper;
  readonly sidecars = new Map<string, FakeSidecar>();
  readonly logLines: Record<string, unknown>[] = [];
  readonly log: Logger;
  #opts: HarnessOptions;

  constructor(opts: HarnessOptions = {}) {
    this.#opts = opts;
    const lines = this.logLines;
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    this.log = pino({ level: opts.logLevel ?? 'info', base: { component: 'sweeper' } }, sink);
    const backoff = opts.backoff ?? { initialMs: 20, maxMs: 200, factor: 2, jitter: 0 };
    this.sweeper = new Sweeper({
      nodeName: NODE,
      api: this.api,
      log: this.log,
      sidecarAdminPort: 9091,
      source: { deadAfterMs: opts.deadAfterMs ?? 10_000, connectTimeoutMs: 2_000, pollIntervalMs: opts.pollIntervalMs ?? 100, backoff },
      confirmTimeoutMs: 2_000,
      retry: backoff,
      endpointOf: (slb) => this.#endpointOf(slb),
    });
    // What the operator and the informer do after a delete: the object goes away and the sweeper hears it.
    this.api.onDelete = (slb) => setImmediate(() => this.sweeper.remove(slb));
  }

  // Points the production endpoint (derived from status.podIP) at this backend's fake sidecar.
  #endpointOf(slb: SessionLivedBackend): ActivityEndpoint | undefined {
    const base = activityEndpoint(slb);
    const sidecar = this.sidecars.get(objectKey(slb));
    if (!base || !sidecar) return base;
    return base.mode === 'stream'
      ? { mode: 'stream', eventsUrl: `${sidecar.baseUrl}/events`, statusUrl: `${sidecar.baseUrl}/status` }
      : { mode: 'poll', statusUrl: `${sidecar.baseUrl}/status` };
  }

  async sidecarFor(namespace: string, name: string): Promise<FakeSidecar> {
    const sidecar = await FakeSidecar.start({ heartbeatMs: this.#opts.heartbeatMs ?? 15_000 });
    this.sidecars.set(`${namespace}/${name}`, sidecar);
    return sidecar;
  }

  // Stores the SLB in the fake API and tells the sweeper, as an informer 'add' would.
  add(shape: SlbShape): SessionLivedBackend {
    const slb = this.api.put(makeSlb(shape));
    this.sweeper.upsert(slb);
    return slb;
  }

  update(slb: SessionLivedBackend, change: (s: SessionLivedBackend) => void): SessionLivedBackend {
    const next = structuredClone(slb);
    change(next);
    const stored = this.api.put(next);
    this.sweeper.upsert(stored);
    return stored;
  }

  deleteCall(namespace: string, name: string) {
    return this.api.callsOf('deleteSlb').find((c) => c.namespace === namespace && c.name === name);
  }

  sweptReason(namespace: string, name: string): string | undefined {
    const event = this.api.callsOf('createEvent').find((c) => c.event.involvedObject.name === name && c.namespace === namespace);
    return event?.event.reason;
  }

  async stop(): Promise<void> {
    this.sweeper.stop();
    await Promise.all([...this.sidecars.values()].map((s) => s.stop()));
  }
}

export async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { NODE };
