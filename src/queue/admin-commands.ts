/**
 * Applies the commands that manage queues and workers rather than one lease: `registerWorker`,
 * `cancel`, `pauseQueue`, `resumeQueue`, `redrive` and `purge`.
 *
 * Rules: cancel refuses a leased job (FAILED_PRECONDITION: its worker may still complete it) and a
 * completed one; a cancelled job is retained like a completed one; cancelling a cancelled job
 * answers done again. A paused queue keeps its jobs (delayed ones still become ready) but grants
 * no leases. Redrive moves dead jobs back to ready, oldest first, attempts reset to 0. Purge
 * `ready` forgets the ready and delayed jobs (leased ones finish), purge `dead` the dead ones;
 * a purged job's idempotency key answers `cancelled`. Commands naming a queue that does not
 * exist answer NOT_FOUND.
 *
 * Runs on: the thread that applies the queue's entries (pure).
 */
import { falconError, type FalconError } from '../errors.js';
import type {
  CancelCommand, PauseQueueCommand, PurgeCommand, RedriveCommand, RegisterWorkerCommand, ResumeQueueCommand,
} from './commands.js';
import type { QueueRecord } from './queue-record.js';
import type { QueueState } from './queue-state.js';
import type { CountResult, DoneResult } from './results.js';

const done: DoneResult = { type: 'done' };

function unknownQueue(name: string): FalconError {
  return falconError('NOT_FOUND', `queue ${name} does not exist (nothing was ever enqueued into it)`);
}

export function applyRegisterWorker(state: QueueState, command: RegisterWorkerCommand): DoneResult {
  state.workersVersion += 1;
  state.workers.set(command.workerId, {
    workerId: command.workerId, queues: command.queues, capacity: command.capacity, registeredAtMs: state.nowMs,
  });
  return done;
}

export function applyCancel(state: QueueState, command: CancelCommand): DoneResult | FalconError {
  const job = state.jobs.get(command.jobId);
  if (job === undefined) return falconError('NOT_FOUND', `job ${command.jobId} does not exist (never enqueued, or forgotten after its retention)`);
  if (job.state === 'cancelled') return done;
  if (job.state === 'leased' || job.state === 'completed') {
    return falconError('FAILED_PRECONDITION', `job ${job.id} is ${job.state}: only a delayed, ready or dead job can be cancelled`);
  }
  const queue = state.queue(job.queue);
  state.detachWaiting(job, queue);
  state.finish(job, queue, 'cancelled', 'cancel');
  return done;
}

export function applyPauseQueue(state: QueueState, command: PauseQueueCommand): DoneResult | FalconError {
  const queue = state.queues.get(command.queue);
  if (queue === undefined) return unknownQueue(command.queue);
  queue.paused = true;
  return done;
}

export function applyResumeQueue(state: QueueState, command: ResumeQueueCommand): DoneResult | FalconError {
  const queue = state.queues.get(command.queue);
  if (queue === undefined) return unknownQueue(command.queue);
  queue.paused = false;
  if (queue.ready.size > 0) state.readyQueues.add(queue.name);
  return done;
}

export function applyRedrive(state: QueueState, command: RedriveCommand): CountResult | FalconError {
  const queue = state.queues.get(command.queue);
  if (queue === undefined) return unknownQueue(command.queue);
  let moved = 0;
  while (moved < command.jobsMax) {
    const job = queue.dead.pop();
    if (job === undefined) break;
    job.attempts = 0;
    job.runAtMs = state.nowMs;
    job.transition('ready', state.nowMs, 'redrive', undefined);
    state.insertReady(job, queue);
    moved += 1;
  }
  return { type: 'counted', jobs: moved };
}

function purgeDead(state: QueueState, queue: QueueRecord): number {
  let purged = 0;
  for (let job = queue.dead.pop(); job !== undefined; job = queue.dead.pop()) {
    state.forget(job, queue);
    purged += 1;
  }
  return purged;
}

function purgeWaiting(state: QueueState, queue: QueueRecord): number {
  let purged = 0;
  for (const job of queue.liveJobs()) {
    if (job.state !== 'ready' && job.state !== 'delayed') continue;
    state.detachWaiting(job, queue);
    state.forget(job, queue);
    purged += 1;
  }
  return purged;
}

export function applyPurge(state: QueueState, command: PurgeCommand): CountResult | FalconError {
  const queue = state.queues.get(command.queue);
  if (queue === undefined) return unknownQueue(command.queue);
  return { type: 'counted', jobs: command.set === 'dead' ? purgeDead(state, queue) : purgeWaiting(state, queue) };
}
