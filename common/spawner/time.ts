// Time as the backend's objects carry it. One convention: a timestamp that is absent or unreadable is
// `undefined` (never NaN), so every caller handles "not known" the same visible way.

// Timestamps arrive as RFC 3339 strings from raw JSON and as Dates from client-node's typed deserializers.
export function timeMs(value: Date | string | null | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

// RFC 3339 with whole seconds, as Kubernetes writes its own timestamps (metav1.Time).
export function rfc3339(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}
