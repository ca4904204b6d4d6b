/**
 * The structural invariants of the queue state (queue-state.ts, job-record.ts), checked from the
 * inside after an entry: every job sits in exactly the structures of its one state, each leased
 * job once in the lease timers (at most one live lease per job), and every count matches the jobs.
 * Answers the first violation as a sentence, or undefined.
 *
 * Runs on: the mocha process.
 */
import type { JobRecord } from '../../src/queue/job-record.js';
import type { QueueStateMachine } from '../../src/queue/queue-state-machine.js';
import type { QueueState } from '../../src/queue/queue-state.js';
import type { JobState } from '../../src/queue/results.js';

export function stateOf(machine: QueueStateMachine): QueueState {
  return (machine as unknown as { state: QueueState }).state;
}

function placementProblem(state: QueueState, job: JobRecord): string | undefined {
  const queue = state.queues.get(job.queue);
  if (queue === undefined) return `job ${job.id} of unknown queue ${job.queue}`;
  const placed = {
    ready: queue.ready.has(job) && queue.readyByAge.has(job),
    delayed: state.delayedTimers.has(job),
    leased: state.leaseTimers.has(job),
    dead: queue.dead.has(job),
    finished: queue.retained.toArray().includes(job),
  };
  const expected: Record<JobState, keyof typeof placed> = {
    ready: 'ready', delayed: 'delayed', leased: 'leased', dead: 'dead', completed: 'finished', cancelled: 'finished',
  };
  const where = Object.entries(placed).filter(([, inIt]) => inIt).map(([name]) => name);
  if (where.length !== 1 || where[0] !== expected[job.state]) return `job ${job.id} in state ${job.state} sits in [${where.join(', ')}]`;
  if (job.state !== 'ready' && queue.readyByAge.has(job)) return `job ${job.id} in state ${job.state} is in the age index`;
  return undefined;
}

export function invariantProblem(machine: QueueStateMachine): string | undefined {
  const state = stateOf(machine);
  const counts = new Map<string, Record<JobState, number>>();
  let heldLeasesByWorker = 0;
  for (const job of state.jobs.values()) {
    const problem = placementProblem(state, job);
    if (problem !== undefined) return problem;
    const count = counts.get(job.queue) ?? { ready: 0, delayed: 0, leased: 0, dead: 0, completed: 0, cancelled: 0 };
    count[job.state] += 1;
    counts.set(job.queue, count);
    if (job.state === 'leased' && job.workerId !== '') {
      heldLeasesByWorker += 1;
      if (state.leasesByWorker.get(job.workerId)?.has(job) !== true) return `leased job ${job.id} is missing from worker ${job.workerId}'s leases`;
    }
  }
  let leased = 0;
  let delayed = 0;
  for (const queue of state.queues.values()) {
    const count = counts.get(queue.name) ?? { ready: 0, delayed: 0, leased: 0, dead: 0, completed: 0, cancelled: 0 };
    const actual = { ready: queue.ready.size, delayed: queue.delayed, leased: queue.leased, dead: queue.dead.size, finished: queue.retained.size };
    const wanted = { ready: count.ready, delayed: count.delayed, leased: count.leased, dead: count.dead, finished: count.completed + count.cancelled };
    if (JSON.stringify(actual) !== JSON.stringify(wanted)) return `queue ${queue.name} counts ${JSON.stringify(actual)}, its jobs ${JSON.stringify(wanted)}`;
    if (queue.readyByAge.size !== queue.ready.size) return `queue ${queue.name} age index holds ${queue.readyByAge.size}, ready ${queue.ready.size}`;
    if (queue.heldJobs !== count.ready + count.delayed + count.leased + count.dead) return `queue ${queue.name} holds ${queue.heldJobs} jobs by its count`;
    leased += count.leased;
    delayed += count.delayed;
  }
  if (state.leaseTimers.size !== leased) return `lease timers hold ${state.leaseTimers.size}, leased jobs ${leased}`;
  if (state.delayedTimers.size !== delayed) return `delayed timers hold ${state.delayedTimers.size}, delayed jobs ${delayed}`;
  const workerLeases = [...state.leasesByWorker.values()].reduce((sum, leases) => sum + leases.size, 0);
  if (workerLeases !== heldLeasesByWorker) return `worker lease sets hold ${workerLeases}, leased jobs with a worker ${heldLeasesByWorker}`;
  return undefined;
}
