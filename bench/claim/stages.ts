// Where a warm claim's time goes: its create→Ready split into stages that add up, from the bench's own
// clock (create sent and answered, its watch seeing the backend and then Ready) and the operator's log
// lines of that claim ('claimed a warm member' with reconcileMs and patchMs, 'phase changed' to Ready,
// each stamped with the wall clock in ms). Both processes run on one machine, so one clock.
//
//   create     create sent → the API server's answer
//   watch      answer → the bench's watch sees the backend (the operator's informer sees it about then)
//   queue      seen → the operator's reconcile starts (its work queue and event loop)
//   hand-over  reconcile start → the hand-over patch of the member answered (the finalizer patch overlaps)
//   status     hand-over answered → the status write answered
//   ready      status answered → the bench's watch sees Ready
// An operator without reconcileMs in its log line (an older checkout) gets queue and hand-over as one.

export const STAGES = ['create', 'watch', 'queue', 'hand-over', 'status', 'ready'] as const;
export type Stage = (typeof STAGES)[number];

/** What the bench saw of one claim (epoch ms). */
export interface ClaimClock {
  sent: number;
  answered?: number;
  seen?: number;
  ready?: number;
}

/** What the operator logged of one claim (epoch ms). */
export interface OperatorClock {
  claimedAt?: number;
  reconcileMs?: number;
  patchMs?: number;
  readyWrittenAt?: number;
}

/** The operator's log lines of the named backends in `namespace`: claim and Ready-write times. */
export function operatorClocks(logText: string, namespace: string): Map<string, OperatorClock> {
  const out = new Map<string, OperatorClock>();
  for (const line of logText.split('\n')) {
    if (!line.includes('"claimed a warm member"') && !line.includes('"phase changed"')) continue;
    let rec: { namespace?: string; name?: string; msg?: string; time?: string; to?: string; reconcileMs?: number; patchMs?: number };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.namespace !== namespace || !rec.name || !rec.time) continue;
    const clock = out.get(rec.name) ?? {};
    const at = Date.parse(rec.time);
    if (rec.msg === 'claimed a warm member') Object.assign(clock, { claimedAt: at, reconcileMs: rec.reconcileMs, patchMs: rec.patchMs });
    else if (rec.msg === 'phase changed' && rec.to === 'Ready') clock.readyWrittenAt = at;
    out.set(rec.name, clock);
  }
  return out;
}

/** One claim's stages in ms (absent where a clock is missing); they add up to create→Ready. */
export function claimStages(c: ClaimClock, o: OperatorClock | undefined): Partial<Record<Stage | 'patch', number>> {
  const s: Partial<Record<Stage | 'patch', number>> = {};
  const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? b - a : undefined);
  const started = o?.claimedAt !== undefined && o.reconcileMs !== undefined ? o.claimedAt - o.reconcileMs : undefined;
  const set = (k: Stage | 'patch', v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) s[k] = v;
  };
  set('create', diff(c.sent, c.answered));
  set('watch', diff(c.answered, c.seen));
  if (started !== undefined) {
    set('queue', diff(c.seen, started));
    set('hand-over', o!.reconcileMs);
  } else set('hand-over', diff(c.seen, o?.claimedAt)); // queue included
  set('patch', o?.patchMs);
  set('status', diff(o?.claimedAt, o?.readyWrittenAt));
  set('ready', diff(o?.readyWrittenAt, c.ready));
  return s;
}
