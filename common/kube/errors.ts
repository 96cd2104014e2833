// What the API server refused, and the predicates every component uses to tell refusals apart. One error
// class: KubeApiError carries the HTTP status and the Status object the API server sent; the predicates
// read that object's `code` and `reason` (a stable API), never its message text. Test fakes raise the
// same class through `statusError`, so production and tests classify errors alike.

export interface KubeStatusCause {
  field?: string;
  message?: string;
  reason?: string;
}

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string; // NotFound, AlreadyExists, Conflict, Invalid, Forbidden, TooManyRequests, …
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: KubeStatusCause[]; retryAfterSeconds?: number };
}

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly status?: KubeStatus;
  constructor(statusCode: number, message: string, status?: KubeStatus) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.status = status;
  }
}

// A non-2xx answer: the Status object when the body is one, otherwise the raw text in the message.
export function errorFromResponse(statusCode: number, text: string, what: string): KubeApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed && typeof parsed === 'object') status = parsed;
  } catch {
    // Not a Status object (a proxy's HTML error page, say): keep the raw text in the message.
  }
  const msg = status?.message ?? text.slice(0, 200);
  return new KubeApiError(statusCode, `${what}: HTTP ${statusCode}${msg ? `: ${msg}` : ''}`, status);
}

// The error the API server would raise for a Status: for watch ERROR events, and for test fakes.
export function statusError(code: number, reason: string, message: string, details?: KubeStatus['details']): KubeApiError {
  return new KubeApiError(code, message, { kind: 'Status', status: 'Failure', code, reason, message, ...(details ? { details } : {}) });
}

// The HTTP status of a refusal (the Status object's `code`, else the response's), or undefined for
// anything that is not an API answer (a network error, a timeout).
export function httpStatus(err: unknown): number | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  return err.status?.code ?? (err.statusCode || undefined);
}

export function statusReason(err: unknown): string | undefined {
  return err instanceof KubeApiError ? err.status?.reason || undefined : undefined;
}

// A reason when the Status has one; the HTTP status only when the body was not a Status.
function refusal(err: unknown, reason: string, code: number): boolean {
  const r = statusReason(err);
  return r !== undefined ? r === reason : httpStatus(err) === code;
}

export const isNotFound = (err: unknown): boolean => refusal(err, 'NotFound', 404);
export const isAlreadyExists = (err: unknown): boolean => refusal(err, 'AlreadyExists', 409);
// A resourceVersion or uid precondition that no longer holds.
export const isConflict = (err: unknown): boolean => refusal(err, 'Conflict', 409);
export const isInvalid = (err: unknown): boolean => refusal(err, 'Invalid', 422);
export const isForbidden = (err: unknown): boolean => refusal(err, 'Forbidden', 403);
export const isTooManyRequests = (err: unknown): boolean => refusal(err, 'TooManyRequests', 429);
