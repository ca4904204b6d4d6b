/**
 * The module a WorkerRunner's piscina pool loads in each of its threads. It imports the user's
 * handler module (once per thread and path), whose default export is `async (job) => result`, and
 * runs one job per task: decoding the payload, calling the handler, encoding the result. The
 * answer is always a `HandlerOutcome` value, never a thrown error, because an error crossing the
 * thread boundary loses its class (and so whether it is retryable).
 *
 * A module without a default export function fails every job as retryable (the jobs retry with
 * their backoff and reach the dead-letter set; fixing the module and redriving recovers them).
 *
 * Runs on: a piscina thread.
 */
import { pathToFileURL } from 'node:url';
import { runJobHandler, type HandlerOutcome, type JobHandler, type PulledJob } from './job-handler.js';

export interface HostTask {
  /** Absolute path of the handler module. */
  readonly modulePath: string;
  readonly job: PulledJob;
}

const handlers = new Map<string, Promise<JobHandler | string>>();

async function loadHandler(modulePath: string): Promise<JobHandler | string> {
  try {
    const loaded = await import(pathToFileURL(modulePath).href) as { default?: unknown };
    if (typeof loaded.default !== 'function') return `the handler module ${modulePath} has no default export function`;
    const handler = loaded.default as (job: unknown, context: unknown) => unknown;
    return async (job, context) => await handler(job, context);
  } catch (error) {
    return `the handler module ${modulePath} failed to load: ${(error as Error).message}`;
  }
}

/** A signal that never aborts: a piscina task is not cancelled midway (its thread would be torn down). */
const neverAborted = new AbortController().signal;

export default async function runHostTask(task: HostTask): Promise<HandlerOutcome> {
  let loading = handlers.get(task.modulePath);
  if (loading === undefined) {
    loading = loadHandler(task.modulePath);
    handlers.set(task.modulePath, loading);
  }
  const handler = await loading;
  if (typeof handler === 'string') return { ok: false, message: handler, retryable: true };
  return await runJobHandler(handler, task.job, { signal: neverAborted });
}
