/**
 * One request's attempts as a ClusterConnection makes them, shared with its sender across calls.
 *
 * Runs on: any thread of a client process.
 */
import type { ProtocolError } from './errors.js';

export type RequestBody = Readonly<Record<string, unknown>> & { readonly type: string };

/**
 * What the attempts of one request share with its sender across calls (an EnqueueBatcher's
 * sequence): the body the next attempt sends, and whether an attempt may have taken effect.
 * Invariant: once `inDoubt`, always `inDoubt`; `inFlight` only while an attempt awaits its answer.
 */
export class RequestAttempts {
  /** An attempt was handed to a connection and its answer is not in yet. */
  inFlight = false;
  /** An attempt left and its outcome is unknown (lost connection, UNAVAILABLE, no answer in time). */
  inDoubt = false;
  /** Set by the sender when no call waits for the request any more: no attempt leaves after it. */
  abandoned = false;
  /** The last attempt's failure (set by the connection), the `cause` of a deadline error. */
  lastFailure: ProtocolError | undefined;

  /** `body`: what the next attempt sends; the sender may change it while nothing `mayHaveTakenEffect`
   *  (after that, only as the EnqueueBatcher does: to a job set the reply's length tells apart).
   *  `resendOf`: what the sender sends instead once an earlier attempt may have taken effect (the
   *  EnqueueBatcher marks it `retry`); default the body unchanged. */
  constructor(public body: RequestBody, private readonly resendOf?: (body: RequestBody) => RequestBody) {}

  get mayHaveTakenEffect(): boolean {
    return this.inFlight || this.inDoubt;
  }

  /** What the next attempt sends: `body`, or the sender's resend of it once an earlier attempt may
   *  have taken effect. */
  get nextBody(): RequestBody {
    return this.inDoubt && this.resendOf !== undefined ? this.resendOf(this.body) : this.body;
  }
}
