// The operator's own settings for the Spawner logic (the backend's types and defaults are in common/spawner/).
export interface SpawnerConfig {
  sidecarImage: string;
  publicUrl: string; // without a trailing slash; a backend's url is `${publicUrl}/p/${name}/`
  keepFailedPods?: boolean; // keep a Failed backend's Pod (for its logs) until the backend goes
}
