/**
 * A bounded wait for a condition that no event announces (a figure in /status, a count over the
 * protocol): polls it every `pollMs` and fails with `what` once `timeoutMs` has passed.
 *
 * Runs on: the test process.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
