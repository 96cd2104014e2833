// For the suites of connect checks: a loopback port that accepts connections and one where nothing
// listens (e2e/harness/net.ts openAndClosedPorts), opened before the suite's tests and closed after.
import { afterAll, beforeAll } from '@jest/globals';
import { openAndClosedPorts } from '../../e2e/harness/net.ts';

export function loopbackPorts(): { readonly open: number; readonly closed: number } {
  let ports: Awaited<ReturnType<typeof openAndClosedPorts>> | undefined;
  beforeAll(async () => {
    ports = await openAndClosedPorts();
  });
  afterAll(() => ports?.close());
  return {
    get open() { return ports!.openPort; },
    get closed() { return ports!.closedPort; },
  };
}
