// Names and numbers that several components (and users) depend on. Changing one is a contract change.

export const GROUP = 'spawner.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'SessionLivedBackend';
export const PLURAL = 'sessionlivedbackends';

export const FINALIZER = 'spawner.dev/teardown';

// Labels the operator puts on every child Pod (and put on the per-backend Services of old backends).
export const LABEL_BACKEND = 'spawner.dev/backend'; // value: the SLB's name
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'spawner';

// The sweeper watches only the SLBs on its own node through this CRD selectable field.
export const NODE_FIELD = 'status.nodeName';

// The injected sidecar. Traffic goes to its proxy port, or to the app's own port when there is no sidecar.
export const SIDECAR_CONTAINER = 'spawner-sidecar';
export const SIDECAR_PROXY_PORT = 9090;
export const SIDECAR_ADMIN_PORT = 9091;

// What the sidecar's admin port (or, without a sidecar, the app) answers on GET /status, and what each
// Server-Sent Event on GET /events carries.
export interface BackendActivity {
  active_connections: number;
  seconds_inactive: number;
  listening: boolean;
  ready: boolean;
}

// The backend's phases, conditions, name rule and defaults are its domain: common/spawner/.

// WarmPools: backends started ahead of their sessions (see schema/warmpool.yaml).
export const POOL_KIND = 'WarmPool';
export const POOL_PLURAL = 'warmpools';
// The pool's finalizer: its unclaimed members are deleted by the pool controller (with a resourceVersion
// precondition, so a member claimed meanwhile is never hit), not by the garbage collector.
export const POOL_FINALIZER = 'spawner.dev/members';
// On an unclaimed member: its pool's name (removed by the claim, so the selector finds unclaimed ones only).
export const LABEL_POOL = 'spawner.dev/pool';
// On every member, claimed or not: the hash of the template it was built from.
export const LABEL_TEMPLATE_HASH = 'spawner.dev/template-hash';
// On a claimed member: the pool it came from.
export const LABEL_CLAIMED_FROM = 'spawner.dev/claimed-from';
