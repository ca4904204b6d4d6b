/**
 * Applies an `enqueue` command: the producer session first (a retried sequence answers its first
 * answer; a retry the node cannot tell from a first attempt applied under a forgotten session is
 * refused, whatever keys its jobs carry: see `judgeSession`), then the idempotency keys (a key
 * seen within the window, or earlier in the same batch, answers its first job), then the limits
 * over what is really new, refusing the whole command with RESOURCE_EXHAUSTED naming the limit and
 * its value, then the new jobs.
 *
 * Job ids: `entryIndex * jobsPerEntryMax + position`, where position counts every job spec of
 * the entry's enqueue commands in order (duplicates and refused commands included), so an id
 * depends only on the entry, never on the state.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { falconError, type FalconError } from '../errors.js';
import { jobsPerEntryMax, type EnqueueCommand, type JobSpec, type QueueLimits } from './commands.js';
import { scopedKey } from './idempotency-keys.js';
import { JobRecord } from './job-record.js';
import { answerIds, sequenceAnswer } from './producer-sessions.js';
import type { QueueState } from './queue-state.js';
import type { EnqueueResult, EnqueuedJob, JobTransition } from './results.js';

/** An earlier job a spec's key maps to, within the table or within the batch. */
type KeyMatches = Map<number, number>;

function refuse(state: QueueState, limitName: keyof QueueLimits, message: string): FalconError {
  state.countRefusal(limitName);
  return falconError('RESOURCE_EXHAUSTED', message, { limit: limitName });
}

/** What a retried sequence answers: the same ids, their current states, duplicate. */
function answerRetry(state: QueueState, ids: readonly number[]): EnqueueResult {
  state.producers.dedupHits += 1;
  return { type: 'enqueued', jobs: ids.map((id) => ({ id, state: state.stateOfJob(id, undefined), duplicate: true })) };
}

/** Position → id of the earlier job each keyed spec duplicates (undefined when no spec has a key). */
function findKeyMatches(state: QueueState, command: EnqueueCommand, firstId: number): KeyMatches | undefined {
  let matches: KeyMatches | undefined;
  let batchKeys: Map<string, number> | undefined;
  command.jobs.forEach((spec, position) => {
    if (spec.key === undefined) return;
    batchKeys ??= new Map();
    matches ??= new Map();
    const name = scopedKey(command.queue, spec.key);
    const earlier = batchKeys.get(name) ?? state.keys.find(name, state.nowMs)?.jobId;
    if (earlier !== undefined) matches.set(position, earlier);
    else batchKeys.set(name, firstId + position);
  });
  return matches;
}

/** The refusal when the new jobs do not fit the limits, or undefined. */
function checkLimits(state: QueueState, command: EnqueueCommand, matches: KeyMatches | undefined): FalconError | undefined {
  const { limits, queue: name } = command;
  const queue = state.queues.get(name);
  if (queue === undefined && state.queues.size >= limits.queuesMax) {
    return refuse(state, 'queuesMax', `queue ${name} would be queue ${state.queues.size + 1}, above queuesMax ${limits.queuesMax}`);
  }
  let newJobs = 0;
  let newBytes = 0;
  command.jobs.forEach((spec, position) => {
    if (matches?.has(position) === true) return;
    newJobs += 1;
    newBytes += spec.payload.byteLength;
  });
  const heldJobs = (queue?.heldJobs ?? 0) + newJobs;
  if (newJobs > 0 && heldJobs > limits.jobsPerQueueMax) {
    return refuse(state, 'jobsPerQueueMax', `queue ${name} would hold ${heldJobs} jobs, above jobsPerQueueMax ${limits.jobsPerQueueMax}`);
  }
  const heldBytes = (queue?.heldBytes ?? 0) + newBytes;
  if (newJobs > 0 && heldBytes > limits.bytesPerQueueMax) {
    return refuse(state, 'bytesPerQueueMax', `queue ${name} would hold ${heldBytes} payload bytes, above bytesPerQueueMax ${limits.bytesPerQueueMax}`);
  }
  return undefined;
}

function newJob(state: QueueState, command: EnqueueCommand, spec: JobSpec, id: number): JobRecord {
  const { defaults } = command;
  const delayMs = spec.delayMs ?? 0;
  return new JobRecord({
    id,
    queue: command.queue,
    payload: spec.payload,
    contentType: spec.contentType ?? 0,
    priority: spec.priority ?? 0,
    runAtMs: state.nowMs + delayMs,
    attemptsMax: spec.attemptsMax ?? defaults.attemptsMax,
    leaseMs: spec.leaseMs ?? defaults.leaseMs,
    backoff: spec.backoff ?? defaults.backoff,
    key: spec.key,
    enqueuedAtMs: state.nowMs,
  }, delayMs > 0 ? 'delayed' : 'ready');
}

/** What the producer session says of an enqueue: answered (a retried sequence) or refused, else
 *  undefined (applied, its answer then remembered in the session). */
type SessionJudgement = EnqueueResult | FalconError | undefined;

/**
 * The producer session's judgement of `command`. A retry from an unknown producer, or of a sequence
 * issued before the one that opened the session (`openedAfter`) that the session does not remember,
 * is refused: its first attempt may have been applied under a forgotten session, and the outcome is
 * unknown. This holds whatever keys its jobs carry: the keys may have been forgotten too (the table
 * full, the window passed), and a retry answered through the key table would have the length of the
 * set it carries, not of the set first applied, which a field-refusal resend reads (docs/protocol.md
 * §6). The key table still answers the caller's own later enqueue with the same key.
 */
function judgeSession(state: QueueState, command: EnqueueCommand): SessionJudgement {
  const { producer } = command;
  if (producer === undefined) return undefined;
  const session = state.producers.touch(producer.id);
  const answer = session?.find(producer.sequence);
  if (answer !== undefined) return answerRetry(state, answerIds(answer));
  const oldest = session?.forgottenBelow(producer.sequence);
  if (oldest !== undefined) {
    return falconError('FAILED_PRECONDITION',
      `producer ${producer.id} sequence ${producer.sequence} is older than the oldest its session remembers (${oldest}): `
      + 'whether it was applied is unknown', { field: 'sequence', oldestSequence: oldest });
  }
  if (producer.retry !== true) return undefined;
  if (session === undefined) {
    return falconError('FAILED_PRECONDITION',
      `producer ${producer.id} is not known (never seen, or forgotten beyond producersMax), and sequence ${producer.sequence} is a retry: `
      + 'whether its first attempt was applied is unknown', { field: 'sequence', reason: 'producerUnknown' });
  }
  if (!session.openedAfter(producer.sequence)) return undefined;
  return falconError('FAILED_PRECONDITION',
    `producer ${producer.id} sequence ${producer.sequence} is a retry of a sequence issued before ${session.openingSequence}, which opened `
    + 'its session (an earlier session may have been forgotten, beyond producersMax): whether its first attempt was applied is unknown',
    { field: 'sequence', reason: 'beforeSessionOpened', openingSequence: session.openingSequence });
}

/** Applies `command`, whose first job has position `firstPosition` in entry `entryIndex`. */
export function applyEnqueue(state: QueueState, command: EnqueueCommand, entryIndex: number, firstPosition: number): EnqueueResult | FalconError {
  const { producer, limits } = command;
  const judgement = judgeSession(state, command);
  if (judgement !== undefined) return judgement;
  const firstId = entryIndex * jobsPerEntryMax + firstPosition;
  const matches = findKeyMatches(state, command, firstId);
  const refusal = checkLimits(state, command, matches);
  if (refusal !== undefined) return refusal;
  const queue = state.openQueue(command.queue, limits);
  const jobs: EnqueuedJob[] = [];
  const ids: number[] = [];
  // Jobs of one command share their first history step and its array (histories are copied on
  // write): one array instead of one per job, most of a waiting job's history cost.
  let readyHistory: readonly JobTransition[] | undefined;
  let delayedHistory: readonly JobTransition[] | undefined;
  command.jobs.forEach((spec, position) => {
    const earlierId = matches?.get(position);
    if (earlierId !== undefined) {
      state.keys.dedupHits += 1;
      const forgottenState = spec.key === undefined ? undefined : state.keys.entries.get(scopedKey(command.queue, spec.key))?.forgottenState;
      jobs.push({ id: earlierId, state: state.stateOfJob(earlierId, forgottenState), duplicate: true });
      ids.push(earlierId);
      return;
    }
    const job = newJob(state, command, spec, firstId + position);
    job.history = job.state === 'ready' ? (readyHistory ??= [{ state: 'ready', atMs: state.nowMs, reason: undefined, token: undefined }])
      : (delayedHistory ??= [{ state: 'delayed', atMs: state.nowMs, reason: undefined, token: undefined }]);
    state.addJob(job, queue);
    if (spec.key !== undefined) {
      state.keys.remember(scopedKey(command.queue, spec.key), job.id, state.nowMs, limits.dedupWindowMs, limits.idempotencyKeysMax);
    }
    jobs.push({ id: job.id, state: job.state, duplicate: false });
    ids.push(job.id);
  });
  if (producer !== undefined) state.producers.remember(producer.id, sequenceAnswer(producer.sequence, ids), limits.producersMax);
  return { type: 'enqueued', jobs };
}
