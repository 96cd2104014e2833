// The operator's own settings for the Spawner logic (the backend's types and defaults are in common/spawner/).
import type { AccessKey } from '../../../common/spawner/access.ts';
import type { DefaultActivitySource } from '../../../common/spawner/activity.ts';

export interface SpawnerConfig {
  sidecarImage: string;
  // What an unset spec.sidecar.enabled means (--activity-source); absent: BUILT_IN_ACTIVITY_SOURCE.
  activitySource?: DefaultActivitySource;
  publicUrl: string; // without a trailing slash; a backend's url is `${publicUrl}/p/${name}/?token=…`
  keepFailedPods?: boolean; // keep a Failed backend's Pod (for its logs) until the backend goes
  accessKey: AccessKey; // mints the token status.url carries (common/spawner/access.ts)
  routedNamespace: string; // the namespace the router serves: a backend elsewhere gets no URL
}
