/**
 * The EnqueueBatcher when a node refuses one job's field after an attempt of the sequence may have
 * taken effect, over a scripted transport (the test marks an attempt in doubt, as the
 * ClusterConnection does after a lost connection, and answers or refuses each resend): a lone
 * refused call takes calls waiting in the line into the resend of its sequence, so that the
 * reply's length still says which set was applied; with nothing to take, or after an answer that
 * cannot tell, the refused call's outcome is unknown, never a definite refusal.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { RequestAttempts } from '../../src/client/cluster-connection.js';
import { EnqueueBatcher, type EnqueuedJob, type EnqueueTransport } from '../../src/client/enqueue-batcher.js';
import { FailedPreconditionError, PayloadTooLargeError, ProtocolError, UnavailableError } from '../../src/client/errors.js';
import type { WireJob } from '../../src/client/job-options.js';

interface ScriptedRequest {
  readonly sequence: number;
  /** The first byte of each job's payload. */
  readonly jobs: readonly number[];
  readonly retry: boolean;
  readonly attempts: RequestAttempts;
  answer(ids: readonly number[]): void;
  fail(error: ProtocolError): void;
}

/** Records every attempt; an attempt is in flight until the test answers or fails it. */
function scriptedTransport(): EnqueueTransport & { requests: ScriptedRequest[] } {
  const requests: ScriptedRequest[] = [];
  return {
    requests,
    call(_body, { attempts }) {
      attempts.inFlight = true;
      const body = attempts.nextBody;
      return new Promise((resolve, reject) => requests.push({
        sequence: body['sequence'] as number,
        jobs: (body['jobs'] as WireJob[]).map((job) => job.payload[0] ?? -1),
        retry: body['retry'] === true,
        attempts,
        answer: (ids) => {
          attempts.inFlight = false;
          resolve({ jobs: ids.map((id) => ({ id, state: 'ready', duplicate: false })) });
        },
        fail: (error) => {
          attempts.inFlight = false;
          reject(error);
        },
      }));
    },
  };
}

function job(n: number): WireJob {
  return { payload: Buffer.from([n]) };
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function rejection(promise: Promise<unknown>): Promise<ProtocolError> {
  return promise.then(() => expect.fail('resolved'), (error: unknown) => error as ProtocolError);
}

/** The node's refusal of job `index`'s payload. */
function tooLarge(index: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`jobs[${index}].payload holds 4096 bytes, above queue.payloadBytesMax (1024 bytes)`, { detail: { field: `jobs[${index}].payload` } });
}

/** The next request, after the batcher had its turn. */
async function nextRequest(transport: { requests: ScriptedRequest[] }): Promise<ScriptedRequest> {
  await turn();
  await turn();
  const request = transport.requests.shift();
  if (request === undefined) expect.fail('no request was sent');
  return request;
}

/** One sequence in flight at a time, its session answered once (sequence 0): later calls wait in the line. */
async function answeredSession(): Promise<{ transport: ReturnType<typeof scriptedTransport>; batcher: EnqueueBatcher }> {
  const transport = scriptedTransport();
  const batcher = new EnqueueBatcher({ transport, sequencesInFlightMax: 1 });
  const opening = batcher.submit('q', [job(99)], Date.now() + 10_000, false);
  (await nextRequest(transport)).answer([1]);
  await opening;
  return { transport, batcher };
}

/** Sequence 1 carries a lone call; `thenSubmit` makes the calls that wait in the line meanwhile;
 *  the attempt is lost (in doubt), and its resend is refused for job 0. */
async function loneRefusedInDoubt<T>(transport: ReturnType<typeof scriptedTransport>, batcher: EnqueueBatcher, thenSubmit: () => T): Promise<{ lone: Promise<EnqueuedJob[]>; waiting: T }> {
  const lone = batcher.submit('q', [job(10)], Date.now() + 10_000, false);
  void lone.catch(() => undefined);
  const first = await nextRequest(transport);
  expect([first.sequence, first.jobs]).to.deep.equal([1, [10]]);
  const waiting = thenSubmit();
  await turn();
  first.attempts.inDoubt = true;
  first.fail(tooLarge(0));
  return { lone, waiting };
}

describe('SDK enqueue batching: a field refusal while an attempt may have taken effect', () => {
  for (const applied of ['the lone call\'s set', 'the set taken from the line'] as const) {
    it(`resends a lone refused call's sequence with calls from the line, and settles by the reply's length (${applied} applied)`, async () => {
      const { transport, batcher } = await answeredSession();
      const { lone, waiting } = await loneRefusedInDoubt(transport, batcher,
        () => [batcher.submit('q', [job(11)], Date.now() + 10_000, false), batcher.submit('q', [job(12)], Date.now() + 10_000, false)]);
      // One job from the line would have the lone set's length (1): both are taken.
      const resend = await nextRequest(transport);
      expect([resend.sequence, resend.jobs, resend.retry]).to.deep.equal([1, [11, 12], true]);
      if (applied === 'the lone call\'s set') {
        resend.answer([500]);
        expect((await lone).map((answer) => answer.id)).to.deep.equal([500]);
        // Not applied under sequence 1: they leave under the next one, as a first attempt.
        const next = await nextRequest(transport);
        expect([next.sequence, next.jobs, next.retry]).to.deep.equal([2, [11, 12], false]);
        next.answer([601, 602]);
      } else {
        resend.answer([601, 602]);
        const refused = await rejection(lone);
        expect(refused).to.be.instanceOf(PayloadTooLargeError);
        expect(refused.detail).to.deep.equal({ field: 'payload' });
      }
      expect((await Promise.all(waiting)).map(([answer]) => answer?.id)).to.deep.equal([601, 602]);
    });
  }

  it('rejects a lone refused call with outcome unknown (sent: true) when no call waits to go with it', async () => {
    const { transport, batcher } = await answeredSession();
    const { lone } = await loneRefusedInDoubt(transport, batcher, () => undefined);
    const error = await rejection(lone);
    expect(error).to.be.instanceOf(UnavailableError);
    expect(error.sent).to.equal(true);
    expect(error.cause).to.be.instanceOf(PayloadTooLargeError);
    expect(error.message).to.match(/^enqueue outcome unknown: request sequence 1 /);
  });

  for (const sessionAnswered of [true, false]) {
    it(`treats "producer unknown" after a reduced resend as ${sessionAnswered ? 'unknown outcome, once a sequence was answered' : 'nothing applied, before any sequence was answered'}`, async () => {
      const transport = scriptedTransport();
      const batcher = new EnqueueBatcher({ transport });
      if (sessionAnswered) {
        const opening = batcher.submit('q', [job(99)], Date.now() + 10_000, false);
        (await nextRequest(transport)).answer([1]);
        await opening;
      }
      const calls = [10, 11, 12].map((n) => batcher.submit('q', [job(n)], Date.now() + 10_000, false));
      for (const call of calls) void call.catch(() => undefined);
      const first = await nextRequest(transport);
      first.attempts.inDoubt = true;
      first.fail(tooLarge(1));
      const resend = await nextRequest(transport);
      expect([resend.sequence, resend.jobs, resend.retry]).to.deep.equal([first.sequence, [10, 12], true]);
      resend.fail(new FailedPreconditionError(`producer p-1 is not known, and sequence ${first.sequence} is a retry`, { detail: { field: 'sequence', reason: 'producerUnknown' } }));
      const refused = await rejection(calls[1] as Promise<unknown>);
      if (sessionAnswered) {
        for (const call of calls) expect(await rejection(call)).to.be.instanceOf(UnavailableError).and.to.include({ sent: true });
        return;
      }
      expect(refused).to.be.instanceOf(PayloadTooLargeError);
      const next = await nextRequest(transport);
      expect([next.sequence, next.jobs, next.retry]).to.deep.equal([first.sequence + 1, [10, 12], false]);
      next.answer([7, 8]);
      expect((await Promise.all([calls[0], calls[2]])).map((answer) => answer?.[0]?.id)).to.deep.equal([7, 8]);
    });
  }
});
