// Event reasons, one place, as constants (kubectl describe shows them; users grep for them).
import type { Phase } from '../../../common/contract.ts';

export const REASON_CREATED_POD = 'CreatedPod';
export const REASON_CREATED_SERVICE = 'CreatedService';
export const REASON_READY = 'Ready';
export const REASON_PENDING = 'Pending';
export const REASON_TERMINATING = 'Terminating';
export const REASON_EXPIRED = 'FailedExpired';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

// The Event for a phase change; Failed carries the failure's own reason (ErrImagePull, StartupTimeout…).
export function phaseChangeEvent(from: Phase | undefined, to: Phase, reason: string, message: string): EventSpec | undefined {
  if (from === to) return undefined;
  switch (to) {
    case 'Ready':
      return { type: 'Normal', reason: REASON_READY, message };
    case 'Failed':
      return { type: 'Warning', reason, message };
    case 'Terminating':
      return { type: 'Normal', reason: REASON_TERMINATING, message };
    case 'Pending':
      return from === undefined ? undefined : { type: 'Normal', reason: REASON_PENDING, message };
  }
}
