// Where the sweeper learns about SLBs: only those on its own node, selected by the API server through
// the CRD's selectable field status.nodeName (never a full list filtered here).

import { NODE_FIELD } from '../../common/contract.ts';
import { informersNotWedged, informersSynced, type HealthCheck } from '../../common/kube/health.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import type { KubeAccess } from '../../common/kube/kubeconfig.ts';
import type { Logger } from '../../common/log.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { slbCollectionPath } from './kube-api.ts';

export interface SlbSink {
  upsert(slb: SessionLivedBackend): void;
  remove(slb: SessionLivedBackend): void;
}

export interface SlbSource {
  start(): Promise<void>; // resolves once the first list has been delivered
  stop(): void;
  // The runtime's probes: live while the watch is not stuck (an unreachable API server is not a reason to
  // restart), ready once the first list arrived.
  healthChecks(): { liveness: HealthCheck[]; readiness: HealthCheck[] };
}

export function nodeFieldSelector(nodeName: string): string {
  return `${NODE_FIELD}=${nodeName}`;
}

export interface InformerSourceOptions {
  kubeConfig: KubeAccess;
  namespace: string; // '' for all namespaces
  nodeName: string;
  log: Logger;
  silenceTimeoutMs?: number;
  resyncMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export function informerSlbSource(opts: InformerSourceOptions, sink: SlbSink): SlbSource {
  const informer: Informer<SessionLivedBackend> = createInformer<SessionLivedBackend>({
    kubeConfig: opts.kubeConfig,
    path: slbCollectionPath(opts.namespace),
    fieldSelector: nodeFieldSelector(opts.nodeName),
    silenceTimeoutMs: opts.silenceTimeoutMs,
    resyncMs: opts.resyncMs,
    backoffInitialMs: opts.backoffInitialMs,
    backoffMaxMs: opts.backoffMaxMs,
    log: opts.log,
    name: 'sessionlivedbackends',
  });
  informer.onEvent((ev) => {
    if (ev.type === 'delete') sink.remove(ev.obj);
    else sink.upsert(ev.obj);
  });
  return {
    start: () => informer.start(),
    stop: () => informer.stop(),
    healthChecks: () => ({ liveness: [informersNotWedged(() => [informer])], readiness: [informersSynced(() => [informer])] }),
  };
}
