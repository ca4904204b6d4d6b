/**
 * The lines a drill worker process (drill-worker.ts) writes on its stdout, one JSON object each,
 * and their merge into the drill's history:
 *
 *   {"w":"invoke","ref":7,"kind":"ack","call":"ack","jobId":12,"token":340,"atMs":…}   a call sent
 *   {"w":"done","ref":7,"atMs":…,"outcome":{"type":"ok","repeated":false}}            its answer
 *   {"w":"delivery","record":{"kind":"delivery",…}}                                   a pulled job
 *   {"w":"released","atMs":…,"reason":"goodbye"}                                      unregistered
 *
 * `ref` numbers a worker's calls; a call whose `done` never comes (the worker was killed) stays
 * pending. The merge also keeps, per worker, the jobs it holds now (delivered, not yet answered by
 * an ack or nack it sent), so that the drill can pick a worker holding leases to kill.
 *
 * Invariants: a line that is not JSON of this shape is kept as the worker's output, never merged;
 * a `done` completes its own worker's `invoke` of the same `ref`, once.
 *
 * Runs on: the drill runner's process (merge) and the worker processes (types).
 */
import type { CallHandle, DeliveryRecord, DrillHistory, LeaseCallHandle } from './history.js';

export type WorkerCallOutcome =
  | { readonly type: 'ok'; readonly repeated: boolean }
  | { readonly type: 'refused' | 'unknown'; readonly code: string };

export type WorkerLine =
  | { readonly w: 'invoke'; readonly ref: number; readonly kind: 'ack' | 'nack' | 'call'; readonly call: string; readonly atMs: number; readonly jobId?: number; readonly token?: number }
  | { readonly w: 'done'; readonly ref: number; readonly atMs: number; readonly outcome: WorkerCallOutcome }
  | { readonly w: 'delivery'; readonly record: DeliveryRecord }
  | { readonly w: 'released'; readonly atMs: number; readonly reason: string };

type PendingCall = { readonly lease: LeaseCallHandle } | { readonly call: CallHandle };

/** Merges one worker's lines into the history. */
export class WorkerLineMerger {
  readonly workerId: string;
  private readonly history: DrillHistory;
  private readonly pending = new Map<number, PendingCall>();
  /** Jobs delivered to this worker and not yet answered by it: job id -> token. */
  readonly held = new Map<number, number>();
  deliveries = 0;
  /** Acks and nacks this worker sent that were accepted. */
  answersAccepted = 0;

  private readonly onDelivery: (record: DeliveryRecord) => void;

  constructor(workerId: string, history: DrillHistory, onDelivery: (record: DeliveryRecord) => void = () => undefined) {
    this.workerId = workerId;
    this.history = history;
    this.onDelivery = onDelivery;
  }

  /** Merges `text` when it is a worker line; answers false for any other output. */
  merge(text: string): boolean {
    if (!text.startsWith('{"w":')) return false;
    let line: WorkerLine;
    try {
      line = JSON.parse(text) as WorkerLine;
    } catch {
      return false;
    }
    switch (line.w) {
      case 'invoke': this.onInvoke(line); return true;
      case 'done': this.onDone(line); return true;
      case 'delivery':
        this.history.recordDelivery({ ...line.record, workerId: this.workerId });
        this.onDelivery({ ...line.record, workerId: this.workerId });
        this.held.set(line.record.jobId, line.record.token);
        this.deliveries += 1;
        return true;
      case 'released':
        this.history.recordReleased({ atMs: line.atMs, workerId: this.workerId, reason: line.reason });
        this.held.clear();
        return true;
      default:
        return false;
    }
  }

  private onInvoke(line: Extract<WorkerLine, { w: 'invoke' }>): void {
    const process = this.workerId;
    if (line.kind === 'call') {
      this.pending.set(line.ref, { call: this.history.invokeCall({ call: line.call, process, atMs: line.atMs }) });
      return;
    }
    const jobId = line.jobId ?? 0;
    const token = line.token ?? 0;
    if (this.held.get(jobId) === token) this.held.delete(jobId);
    const lease = line.kind === 'ack' ? this.history.invokeAck({ jobId, token, process, atMs: line.atMs }) : this.history.invokeNack({ jobId, token, process, atMs: line.atMs });
    this.pending.set(line.ref, { lease });
  }

  private onDone(line: Extract<WorkerLine, { w: 'done' }>): void {
    const pending = this.pending.get(line.ref);
    if (pending === undefined) return;
    this.pending.delete(line.ref);
    const { outcome, atMs } = line;
    if ('lease' in pending) {
      if (outcome.type === 'ok') {
        pending.lease.accepted({ atMs, repeated: outcome.repeated });
        this.answersAccepted += 1;
      } else if (outcome.type === 'refused') {
        pending.lease.refused({ atMs, code: outcome.code });
      } else {
        pending.lease.unknown({ atMs, code: outcome.code });
      }
      return;
    }
    if (outcome.type === 'ok') pending.call.ok({ atMs });
    else if (outcome.type === 'refused') pending.call.failed({ atMs, code: outcome.code });
    else pending.call.unknown({ atMs, code: outcome.code });
  }
}
