// The SessionLivedBackend types, generated from schema/sessionlivedbackend.yaml; everything imports them from here.
export type {
  Condition,
  PoolOrigin,
  SessionLivedBackend,
  SessionLivedBackendList,
  SessionLivedBackendSpec,
  SessionLivedBackendStatus,
} from '../../schema/generated/types.ts';

import type { SessionLivedBackendStatus } from '../../schema/generated/types.ts';

export type Phase = NonNullable<SessionLivedBackendStatus['phase']>;
