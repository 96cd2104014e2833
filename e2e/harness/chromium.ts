// Where Debian's Chromium is, for the browser tests (driven by playwright-core; never a downloaded
// browser). CHROMIUM_PATH overrides; undefined when none is installed, so a suite can say so and skip.
import { accessSync, constants } from 'node:fs';

export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const candidate of [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
