/**
 * A drill history sorted for the checks: enqueues by op id, deliveries and lease calls by job,
 * faults, observations and releases in time order. Built once, read by checker.ts and figures.ts.
 *
 * Invariants: `deliveriesByJob` lists each job's deliveries by fencing token, ascending (the order
 * the leader leased them in: a token is the lease's log index), ties by receive time; every other
 * list is sorted by time.
 *
 * Runs on: the drill runner's process and the offline checker.
 */
import type {
  CallRecord, DeliveryRecord, EnqueueRecord, FaultRecord, HistoryRecord, LeaseCallRecord, ObservationRecord, ReleasedRecord,
} from './history.js';

export interface HistoryIndex {
  readonly enqueues: readonly EnqueueRecord[];
  readonly enqueueByOpId: ReadonlyMap<string, EnqueueRecord>;
  /** The enqueues answered ok, by invoke time. */
  readonly okEnqueuesByInvoke: readonly EnqueueRecord[];
  /** `okAnsweredMsFrom[i]`: the earliest answer among `okEnqueuesByInvoke[i..]` (a suffix minimum). */
  readonly okAnsweredMsFrom: readonly number[];
  /** The times of every ok answer to an enqueue, ascending. */
  readonly okAnswersMs: readonly number[];
  readonly deliveries: readonly DeliveryRecord[];
  readonly deliveriesByJob: ReadonlyMap<number, readonly DeliveryRecord[]>;
  readonly leaseCallsByJob: ReadonlyMap<number, readonly LeaseCallRecord[]>;
  readonly leaseCalls: readonly LeaseCallRecord[];
  readonly calls: readonly CallRecord[];
  readonly faults: readonly FaultRecord[];
  readonly observations: readonly ObservationRecord[];
  /** `observationTermsMax[i]`: the highest term of `observations[0..i]`. */
  readonly observationTermsMax: readonly number[];
  readonly released: readonly ReleasedRecord[];
  /** The earliest and latest time any record names; 0 and 0 for an empty history. */
  readonly startMs: number;
  readonly endMs: number;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function timesOf(record: HistoryRecord): number[] {
  switch (record.kind) {
    case 'enqueue': case 'ack': case 'nack': case 'extend': case 'call':
      return record.completeMs === undefined ? [record.invokeMs] : [record.invokeMs, record.completeMs];
    case 'fault':
      return record.endMs === undefined ? [record.startMs] : [record.startMs, record.endMs];
    default:
      return [record.atMs];
  }
}

export function indexHistory(records: readonly HistoryRecord[]): HistoryIndex {
  const enqueues: EnqueueRecord[] = [];
  const enqueueByOpId = new Map<string, EnqueueRecord>();
  const deliveries: DeliveryRecord[] = [];
  const deliveriesByJob = new Map<number, DeliveryRecord[]>();
  const leaseCallsByJob = new Map<number, LeaseCallRecord[]>();
  const leaseCalls: LeaseCallRecord[] = [];
  const calls: CallRecord[] = [];
  const faults: FaultRecord[] = [];
  const observations: ObservationRecord[] = [];
  const released: ReleasedRecord[] = [];
  let startMs = Number.POSITIVE_INFINITY;
  let endMs = Number.NEGATIVE_INFINITY;
  for (const record of records) {
    for (const atMs of timesOf(record)) {
      startMs = Math.min(startMs, atMs);
      endMs = Math.max(endMs, atMs);
    }
    switch (record.kind) {
      case 'enqueue': enqueues.push(record); enqueueByOpId.set(record.opId, record); break;
      case 'delivery': deliveries.push(record); pushTo(deliveriesByJob, record.jobId, record); break;
      case 'ack': case 'nack': case 'extend': leaseCalls.push(record); pushTo(leaseCallsByJob, record.jobId, record); break;
      case 'call': calls.push(record); break;
      case 'fault': faults.push(record); break;
      case 'observation': observations.push(record); break;
      case 'released': released.push(record); break;
    }
  }
  for (const list of deliveriesByJob.values()) list.sort((a, b) => a.token - b.token || a.atMs - b.atMs);
  for (const list of leaseCallsByJob.values()) list.sort((a, b) => a.invokeMs - b.invokeMs);
  enqueues.sort((a, b) => a.invokeMs - b.invokeMs);
  deliveries.sort((a, b) => a.atMs - b.atMs);
  faults.sort((a, b) => a.startMs - b.startMs);
  observations.sort((a, b) => a.atMs - b.atMs);
  released.sort((a, b) => a.atMs - b.atMs);
  const empty = startMs > endMs;
  const okEnqueuesByInvoke = enqueues.filter((enqueue) => enqueue.outcome.type === 'ok' && enqueue.completeMs !== undefined);
  const okAnsweredMsFrom = okEnqueuesByInvoke.map((enqueue) => enqueue.completeMs ?? Number.POSITIVE_INFINITY);
  for (let position = okAnsweredMsFrom.length - 2; position >= 0; position -= 1) {
    okAnsweredMsFrom[position] = Math.min(okAnsweredMsFrom[position] ?? 0, okAnsweredMsFrom[position + 1] ?? 0);
  }
  const okAnswersMs = okEnqueuesByInvoke.map((enqueue) => enqueue.completeMs ?? 0).sort((a, b) => a - b);
  const observationTermsMax: number[] = [];
  for (const observation of observations) observationTermsMax.push(Math.max(observation.term, observationTermsMax[observationTermsMax.length - 1] ?? 0));
  return {
    enqueues, enqueueByOpId, okEnqueuesByInvoke, okAnsweredMsFrom, okAnswersMs, deliveries, deliveriesByJob, leaseCallsByJob, leaseCalls, calls, faults, observations, observationTermsMax, released,
    startMs: empty ? 0 : startMs, endMs: empty ? 0 : endMs,
  };
}

/** The position of the first of `count` ascending items whose time, `timeAt(i)`, is not below `atMs` (`inclusive`: above it). */
export function firstAtOrAfter(count: number, timeAt: (position: number) => number, atMs: number, inclusive = true): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (inclusive ? timeAt(middle) < atMs : timeAt(middle) <= atMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The position of the first observation later than `atMs`. */
export function observationsUpTo(index: HistoryIndex, atMs: number): number {
  return firstAtOrAfter(index.observations.length, (position) => index.observations[position]?.atMs ?? Number.POSITIVE_INFINITY, atMs, false);
}

/** The highest term any observation at or before `atMs` names; 0 when none. */
export function termObservedBy(index: HistoryIndex, atMs: number): number {
  return index.observationTermsMax[observationsUpTo(index, atMs) - 1] ?? 0;
}

/** The accepted acks of each job, in invoke order. */
export function acceptedAcksByJob(index: HistoryIndex): Map<number, LeaseCallRecord[]> {
  const accepted = new Map<number, LeaseCallRecord[]>();
  for (const call of index.leaseCalls) {
    if (call.kind === 'ack' && call.outcome.type === 'accepted') pushTo(accepted, call.jobId, call);
  }
  return accepted;
}
