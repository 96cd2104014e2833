// A "Field:   123 kB" line of a /proc file (status, smaps_rollup, meminfo), in kB; NaN when it is not there.
export function kbField(text: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
}
