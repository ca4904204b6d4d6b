/**
 * The restart policy of the supervisor, as a pure object so that it can be tested without threads.
 *
 * An actor that fails is restarted after a backoff that doubles from `restartBackoffMsMin` up to
 * `restartBackoffMsMax`. More than `restartsMax` failures within a sliding `restartWindowMs`
 * exhaust the budget: the node gives up and exits non-zero, because an actor that keeps failing
 * (a bad disk, a bug on a poisoned record) will not be cured by restarting it faster.
 *
 * Invariant: `failuresAtMs` is sorted ascending and holds only failures inside the window.
 *
 * Runs on: supervisor (main thread).
 */

export interface RestartPolicySettings {
  readonly restartBackoffMsMin: number;
  readonly restartBackoffMsMax: number;
  readonly restartsMax: number;
  readonly restartWindowMs: number;
}

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly failuresInWindow: number }
  | { readonly action: 'give-up'; readonly failuresInWindow: number };

export class RestartPolicy {
  private readonly settings: RestartPolicySettings;
  private readonly failuresAtMs: number[] = [];

  constructor(settings: RestartPolicySettings) {
    this.settings = settings;
  }

  /** Records a failure at `nowMs` and says what to do about it. */
  onFailure(nowMs: number): RestartDecision {
    this.failuresAtMs.push(nowMs);
    const windowStartMs = nowMs - this.settings.restartWindowMs;
    while (this.failuresAtMs.length > 0 && (this.failuresAtMs[0] ?? nowMs) < windowStartMs) this.failuresAtMs.shift();
    const failuresInWindow = this.failuresAtMs.length;
    if (failuresInWindow > this.settings.restartsMax) return { action: 'give-up', failuresInWindow };
    const exponent = Math.min(failuresInWindow - 1, 30);
    const delayMs = Math.min(this.settings.restartBackoffMsMax, this.settings.restartBackoffMsMin * 2 ** exponent);
    return { action: 'restart', delayMs, failuresInWindow };
  }
}
