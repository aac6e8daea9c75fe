// Polling without asserting on timing: wait for something to become true, or fail saying what.

/**
 * Calls `probe` until it returns a value other than undefined or false (a throw counts as "not
 * yet"), for at most `timeoutMs`; rejects naming `what` and the last error.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message ?? String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
