/**
 * Exit codes of falcon-node, stable for scripts and process managers.
 *
 * Runs on: supervisor (main thread).
 */
export const exitCodes = {
  /** Stopped on request (SIGTERM / SIGINT) after draining. */
  ok: 0,
  /** An unexpected error in the supervisor itself (a bug: the log has the stack). */
  internalError: 1,
  /** Refused to start: the configuration or the environment (config file, port in use, data directory). */
  refusedToStart: 2,
  /** An actor failed more often than the restart budget allows; the log names it and why. */
  actorFailed: 3,
} as const;
