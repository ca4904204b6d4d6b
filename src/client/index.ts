/**
 * FalconQueue's SDK, the package's main export: `FalconClient` (enqueue with automatic batching
 * and duplicate-free retries, get, list, cancel, stats, pause, resume, redrive, purge, workers),
 * the worker types, `NonRetryableError`, one error class per protocol error code, and the types
 * of what the calls answer. docs/sdk.md is the guide.
 *
 * ```ts
 * import { FalconClient } from 'falconqueue';
 * const client = new FalconClient({ nodes: ['127.0.0.1:7201', '127.0.0.1:7202', '127.0.0.1:7203'] });
 * const { id } = await client.enqueue('email', { to: 'a@b.c' });
 * const worker = client.worker('email', async (job) => sendMail(job.payload), { concurrency: 8 });
 * ```
 *
 * Everything here depends only on src/client, the MessagePack codec and the frame codec: the SDK
 * can be published alone (test/client/sdk-imports.test.ts checks it).
 *
 * Runs on: any thread of a client process.
 */
export { FalconClient, nodeAddressOf, type CallOptions, type FalconClientCounters, type FalconClientOptions, type ListOptions } from './falcon-client.js';
export { FalconWorker, type WorkerCounters, type WorkerLogger, type WorkerOptions } from './falcon-worker.js';
export { NonRetryableError, type JobHandler, type JobHandlerContext, type WorkerJob } from './job-handler.js';
export type { EnqueuedJob, JobState } from './enqueue-batcher.js';
export type { Backoff, ContentType, EnqueueOptions, JobSpec } from './job-options.js';
export type { JobInfo, JobPage, JobSummary, JobTransition, QueueStats } from './replies.js';
export type { NodeAddress } from './cluster-connection.js';
export {
  ClientClosedError, DeadlineExceededError, FailedPreconditionError, FrameTooLargeError, InternalError, InvalidArgumentError,
  LeaseLostError, MalformedFrameError, NotFoundError, NotLeaderError, PayloadTooLargeError, PermissionDeniedError, ProtocolError,
  ResourceExhaustedError, UnauthenticatedError, UnavailableError, UnsupportedVersionError, errorOfCode,
  type ErrorDetail, type LeaderAddress, type ProtocolErrorOptions,
} from './errors.js';
