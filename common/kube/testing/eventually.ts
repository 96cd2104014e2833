// Polls until `cond` holds, so tests wait for a state instead of sleeping a guessed time. The generous
// deadline only bounds a failing test; a passing one returns as soon as the condition holds.
export async function eventually(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// A promise with its resolve exposed, to hold a worker until the test lets it go.
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
