// The operator's own settings for the Spawner logic (the backend's types and defaults are in common/spawner/).
import type { DefaultActivitySource } from '../../../common/spawner/activity.ts';

export interface SpawnerConfig {
  sidecarImage: string;
  // What an unset spec.sidecar.enabled means (--activity-source); absent: BUILT_IN_ACTIVITY_SOURCE.
  activitySource?: DefaultActivitySource;
  publicUrl: string; // without a trailing slash; a backend's url is `${publicUrl}/p/${name}/`
  keepFailedPods?: boolean; // keep a Failed backend's Pod (for its logs) until the backend goes
}
