/**
 * Checks the messages of the dispatch link (dispatch.ts), one checker per direction:
 * `checkToReplicator` on the Replicator thread for what the Dispatcher asks, `checkToDispatcher`
 * on the Dispatcher thread for what the Replicator answers. Shape only, as wal-validation.ts.
 *
 * Both ends are this program's own threads, so a message that fails is a bug on the other side of
 * the ring: the receiving role stops on it (a dropped answer would leave a client waiting).
 * Command results are checked down to their fields; read results (job views, pages, stats),
 * which only travel back to a client as they are, are checked as maps and arrays.
 *
 * Runs on: Dispatcher thread and Replicator thread.
 */
import { isFalconError, type FalconError } from '../errors.js';
import {
  arrayOf, boolean, bytes, compile, fields, isMap, oneOf, orNull, positiveSafeInteger, safeInteger, text,
  type FieldChecks, type MessageChecks, type ShapeCheck,
} from '../log/shape-check.js';
import { jobStates } from '../queue/results.js';
import type { AckResult, CountResult, EnqueuedJob, ExtendResult, LeasedJob, NackResult } from '../queue/results.js';
import type { ToDispatcherFromReplicator, ToReplicatorFromDispatcher } from './dispatch.js';
import { checkMessage } from './link-checks.js';

const falconErrorValue: ShapeCheck = (value) => (isFalconError(value) ? undefined : 'is not an error value { code, message }');
const jobState = oneOf(...jobStates);

const queryTypes: Readonly<Record<string, Readonly<Record<string, ShapeCheck>>>> = {
  get: { jobId: positiveSafeInteger },
  list: { queue: text, state: jobState, afterId: safeInteger, limit: positiveSafeInteger },
  stats: { queue: orNull(text) },
  workers: {},
};
const queryChecks = compile(queryTypes);
const query: ShapeCheck = (value) => {
  if (!isMap(value)) return 'is not a map';
  const check = typeof value['type'] === 'string' ? queryChecks.get(value['type']) : undefined;
  return check === undefined ? '.type is not a query type' : check(value);
};

const toReplicatorFields: { readonly [Type in ToReplicatorFromDispatcher['type']]: MessageChecks<Extract<ToReplicatorFromDispatcher, { type: Type }>> } = {
  propose: { batch: positiveSafeInteger, data: bytes },
  read: { batch: positiveSafeInteger, nowMs: safeInteger, queries: arrayOf(query) },
};

const enqueuedJobFields: FieldChecks<EnqueuedJob> = { id: positiveSafeInteger, state: jobState, duplicate: boolean };
const leasedJobFields: FieldChecks<LeasedJob> = {
  id: positiveSafeInteger, queue: text, payload: bytes, contentType: safeInteger, priority: safeInteger, attempt: positiveSafeInteger,
  attemptsMax: positiveSafeInteger, token: positiveSafeInteger, deadlineMs: safeInteger, enqueuedAtMs: safeInteger,
};
const resultTypes: { readonly [Type in string]: Readonly<Record<string, ShapeCheck>> } = {
  enqueued: { jobs: arrayOf(fields(enqueuedJobFields)) },
  leased: { jobs: arrayOf(fields(leasedJobFields)) },
  acked: { jobId: positiveSafeInteger, repeated: boolean } satisfies Omit<FieldChecks<AckResult>, 'type'>,
  nacked: { jobId: positiveSafeInteger, state: jobState, retryAtMs: safeInteger } satisfies Omit<FieldChecks<NackResult>, 'type'>,
  extended: { jobId: positiveSafeInteger, deadlineMs: safeInteger } satisfies Omit<FieldChecks<ExtendResult>, 'type'>,
  counted: { jobs: safeInteger } satisfies Omit<FieldChecks<CountResult>, 'type'>,
  done: {},
};
const resultChecks = compile(resultTypes);
/** One command's result: an error value, or a result map whose `type` picks its fields. */
const commandResult: ShapeCheck = (value) => {
  if (isFalconError(value)) return undefined;
  if (!isMap(value)) return 'is neither a result nor an error value';
  const check = typeof value['type'] === 'string' ? resultChecks.get(value['type']) : undefined;
  return check === undefined ? '.type is not a command result type' : check(value);
};
const queryResult: ShapeCheck = (value) => (value === null || isMap(value) || Array.isArray(value) ? undefined : 'is not a query result');

const toDispatcherFields: { readonly [Type in ToDispatcherFromReplicator['type']]: MessageChecks<Extract<ToDispatcherFromReplicator, { type: Type }>> } = {
  applied: { batch: positiveSafeInteger, index: positiveSafeInteger, results: arrayOf(commandResult) },
  refused: { batch: positiveSafeInteger, error: falconErrorValue, leader: orNull(text) },
  readDone: { batch: positiveSafeInteger, from: safeInteger, results: arrayOf(queryResult), done: boolean },
  readRefused: { batch: positiveSafeInteger, error: falconErrorValue, leader: orNull(text) },
  leadership: { leader: orNull(text), term: safeInteger, stepping: boolean },
  readyQueues: { queues: arrayOf(text) },
};

const toReplicatorChecks = compile(toReplicatorFields);
const toDispatcherChecks = compile(toDispatcherFields);

/** `value` as a request of the Dispatcher, or INTERNAL naming what is wrong. */
export function checkToReplicator(value: unknown): ToReplicatorFromDispatcher | FalconError {
  return checkMessage<ToReplicatorFromDispatcher>(value, 'Dispatcher → Replicator', toReplicatorChecks);
}

/** `value` as an answer of the Replicator, or INTERNAL naming what is wrong. */
export function checkToDispatcher(value: unknown): ToDispatcherFromReplicator | FalconError {
  return checkMessage<ToDispatcherFromReplicator>(value, 'Replicator → Dispatcher', toDispatcherChecks);
}

