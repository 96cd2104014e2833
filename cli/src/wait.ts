// What a waiting command makes of each state of the backend it follows. Pure, so every case is a
// table row: the watch (cluster.ts) feeds states in; the command prints progress and stops on an outcome.
import { CONDITION_ROUTABLE, findCondition } from '../../common/spawner/conditions.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { CliError, EXIT } from './errors.ts';
import { detailOf, phaseOf } from './output.ts';
import { formatDuration } from './duration.ts';

export type WaitFor = 'ready' | 'deleted';

export type Outcome = { kind: 'continue' } | { kind: 'done'; slb?: SessionLivedBackend } | { kind: 'fail'; error: CliError };

// `slb` undefined: it does not exist (any more).
export function judge(target: WaitFor, name: string, slb: SessionLivedBackend | undefined): Outcome {
  if (target === 'deleted') return slb === undefined ? { kind: 'done' } : { kind: 'continue' };
  if (slb === undefined) {
    return { kind: 'fail', error: new CliError(EXIT.failed, `backend "${name}" was deleted while waiting for it to be Ready`) };
  }
  const phase = phaseOf(slb);
  const why = detailOf(slb);
  if (phase === 'Failed') {
    return {
      kind: 'fail',
      error: new CliError(EXIT.failed, `backend "${name}" failed: ${why ?? 'no reason given'}`, `see \`kubectl describe slb ${name}\` for its events`),
    };
  }
  if (phase === 'Terminating' || slb.metadata.deletionTimestamp) {
    return { kind: 'fail', error: new CliError(EXIT.failed, `backend "${name}" is being deleted${why ? ` (${why})` : ''} while waiting for it to be Ready`) };
  }
  if (phase === 'Ready' && slb.status?.url) return { kind: 'done', slb };
  // Outside the namespace the router serves a backend runs but never gets a URL: waiting would not help.
  const routable = findCondition(slb, CONDITION_ROUTABLE);
  if (phase === 'Ready' && routable?.status === 'False') {
    return {
      kind: 'fail',
      error: new CliError(EXIT.failed, `backend "${name}" is Ready but has no URL: ${routable.message}`, `create it in the routed namespace with -n, and delete this one: \`kubectl delete slb -n ${slb.metadata.namespace} ${name}\``),
    };
  }
  return { kind: 'continue' };
}

// One progress line when the phase or its explanation changed since the last line printed.
export function progressLine(name: string, slb: SessionLivedBackend | undefined, previous: string | undefined): string | undefined {
  const line = slb === undefined ? `${name}: deleted` : `${name}: ${phaseOf(slb)}${detailOf(slb) ? ` (${detailOf(slb)})` : ''}`;
  return line === previous ? undefined : line;
}

export function timeoutError(target: WaitFor, name: string, timeoutMs: number, last: SessionLivedBackend | undefined): CliError {
  const state = last === undefined ? '' : `; it is ${phaseOf(last)}${detailOf(last) ? ` (${detailOf(last)})` : ''}`;
  return new CliError(
    EXIT.timeout,
    `timed out after ${formatDuration(timeoutMs)} waiting for backend "${name}" to be ${target === 'ready' ? 'Ready' : 'deleted'}${state}`,
    target === 'ready' ? `wait longer with --timeout, or look at \`kubectl describe slb ${name}\`` : 'the operator removes its Pod first: is the operator running?',
  );
}
