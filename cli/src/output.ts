// How backends are printed: kubectl-like tables, json, yaml, name. Pure: objects and the time come in,
// text comes out.
import { stringify } from 'yaml';
import { CONDITION_READY } from '../../common/spawner/conditions.ts';
import { timeMs } from '../../common/spawner/time.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { humanAge } from './duration.ts';

export const NAME_PREFIX = 'sessionlivedbackend.spawner.dev';

export type Format = 'table' | 'wide' | 'json' | 'yaml' | 'name';

// managedFields are noise for a person and for scripts alike (kubectl hides them too).
export function forPrinting(slb: SessionLivedBackend): SessionLivedBackend {
  const { managedFields: _dropped, ...metadata } = slb.metadata;
  return { ...slb, metadata };
}

export function phaseOf(slb: SessionLivedBackend | undefined): string {
  return slb?.status?.phase ?? 'Pending'; // the CRD defaults it; an object fresh from create may lack it
}

// Why a backend is where it is: the Failed/Terminating reason, else what the Ready condition says.
export function detailOf(slb: SessionLivedBackend): string | undefined {
  const s = slb.status;
  if (!s) return undefined;
  if (s.message) return s.reason ? `${s.reason}: ${s.message}` : s.message;
  const ready = s.conditions?.find((c) => c.type === CONDITION_READY);
  if (ready && ready.status !== 'True') return ready.message || ready.reason;
  return undefined;
}

function ageOf(slb: SessionLivedBackend, now: number): string {
  const created = timeMs(slb.metadata.creationTimestamp);
  return created === undefined ? '-' : humanAge(now - created);
}

export interface TableOptions {
  wide: boolean;
  withNamespace: boolean;
  header: boolean;
  deleted?: boolean; // a watch saw it go: say so in the PHASE column
}

export function tableRows(items: readonly SessionLivedBackend[], o: TableOptions, now: number): string[][] {
  const rows: string[][] = [];
  if (o.header) {
    rows.push([...(o.withNamespace ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'URL', 'AGE', ...(o.wide ? ['NODE', 'REASON'] : [])]);
  }
  for (const slb of items) {
    rows.push([
      ...(o.withNamespace ? [slb.metadata.namespace ?? ''] : []),
      slb.metadata.name ?? '',
      o.deleted ? 'Deleted' : phaseOf(slb),
      slb.status?.url ?? '-',
      ageOf(slb, now),
      ...(o.wide ? [slb.status?.nodeName ?? '-', detailOf(slb) ?? '-'] : []),
    ]);
  }
  return rows;
}

// Columns padded to the widest cell, three spaces apart, as kubectl does; the last column unpadded.
export function renderTable(rows: readonly string[][], widths?: number[]): string {
  const w = widths ?? columnWidths(rows);
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(w[i]! + 3))).join('') + '\n').join('');
}

export function columnWidths(rows: readonly string[][]): number[] {
  const w: number[] = [];
  for (const r of rows) r.forEach((cell, i) => (w[i] = Math.max(w[i] ?? 0, cell.length)));
  return w;
}

export function formatObjects(items: readonly SessionLivedBackend[], format: 'json' | 'yaml' | 'name', asList: boolean): string {
  const clean = items.map(forPrinting);
  if (format === 'name') return clean.map((s) => `${NAME_PREFIX}/${s.metadata.name}\n`).join('');
  const value = asList ? { apiVersion: 'v1', kind: 'List', items: clean, metadata: {} } : clean[0];
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

export function noneFound(namespace: string | undefined): string {
  return namespace === undefined ? 'No backends found.\n' : `No backends found in namespace ${namespace}.\n`;
}
