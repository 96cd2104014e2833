// A backend followed by the node observer, seen through the same interface as a sidecar's event stream
// (activity-sources.ts): observations and unreachability go to the countdown's listener, and fetchNow
// is a fresh read of the Pod's namespace (counters and tables) before an idle sweep.

import type { BackendActivity } from '../../../common/contract.ts';
import type { ActivityListener, ActivitySource } from '../activity-sources.ts';
import type { ActivityEndpoint } from '../slb.ts';
import type { NodeObserver, ObservedHandle } from './observer.ts';

export type NodeEndpoint = Extract<ActivityEndpoint, { mode: 'node' }>;

export class NodeSource implements ActivitySource {
  readonly mode = 'node';
  #observer: NodeObserver;
  #endpoint: NodeEndpoint;
  #listener: ActivityListener;
  #handle: ObservedHandle | undefined;

  constructor(observer: NodeObserver, endpoint: NodeEndpoint, listener: ActivityListener) {
    this.#observer = observer;
    this.#endpoint = endpoint;
    this.#listener = listener;
  }

  start(): void {
    const e = this.#endpoint;
    this.#handle = this.#observer.observe(`${e.podUID}/${e.appPort}`, { uid: e.podUID, appPort: e.appPort, podIPs: e.podIPs }, this.#listener);
  }

  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
  }

  fetchNow(): Promise<BackendActivity> {
    if (!this.#handle) return Promise.reject(new Error('not started'));
    return this.#handle.readNow();
  }
}
