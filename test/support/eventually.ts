// Waiting for what another process signals (a NOTIFY between instances): poll, never sleep a fixed time.

/** Generous: a notification normally arrives within milliseconds, but the host is shared. */
export const SIGNAL_DEADLINE_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or the deadline passes; whether it came to hold. */
export async function eventually(check: () => Promise<boolean>, deadlineMs = SIGNAL_DEADLINE_MS): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(25);
  }
}
