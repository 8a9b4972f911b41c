const FIRST_DELAY_MS = 500

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from 0.5 s, capped at `maxMs`, with
 * jitter in the upper half so that relays of one master that failed together do not return together.
 * The first retry comes within 0.5 s; Icecast waits its master-update-interval (120 s) instead.
 */
export function backoffDelay (attempt: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, FIRST_DELAY_MS * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling * (0.5 + random() * 0.5))
}
