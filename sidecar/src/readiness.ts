// Is the app listening? A TCP connect to its port answers it. Probed often until the app first
// listens (start-up is what users wait for), then rarely; the proxy's own outcomes correct it at once.
import { acceptsConnection } from '../../common/tcp-connect.ts';
import type { ActivityTracker } from './activity.ts';

export interface ProbeOptions {
  host: string;
  port: number;
  fastMs: number; // until the app listens
  slowMs: number; // afterwards
  timeoutMs: number;
}

export function probeInterval(listening: boolean, options: Pick<ProbeOptions, 'fastMs' | 'slowMs'>): number {
  return listening ? options.slowMs : options.fastMs;
}

export class ReadinessProbe {
  #tracker: ActivityTracker;
  #options: ProbeOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #probing = false;
  #abort = new AbortController();

  constructor(tracker: ActivityTracker, options: ProbeOptions) {
    this.#tracker = tracker;
    this.#options = options;
  }

  start(): void {
    void this.#tick();
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // The proxy just got a response from the app.
  reportReached(): void {
    if (!this.#tracker.listening) this.#tracker.setListening(true);
  }

  // The proxy was refused: the app stopped listening. Probe fast again until it is back.
  reportRefused(): void {
    if (!this.#tracker.listening) return;
    this.#tracker.setListening(false);
    this.#reschedule();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (this.#stopped || this.#probing) return;
    this.#probing = true;
    const ok = await acceptsConnection(this.#options.host, this.#options.port, this.#options.timeoutMs, this.#abort.signal);
    this.#probing = false;
    if (this.#stopped) return;
    this.#tracker.setListening(ok);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => void this.#tick(), probeInterval(this.#tracker.listening, this.#options));
  }

  #reschedule(): void {
    if (this.#probing) return; // the probe in flight schedules the next one
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule();
  }
}
