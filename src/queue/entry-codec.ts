/**
 * Encodes and checks the data of a queue log entry (`QueueEntry`, commands.ts): the Dispatcher
 * encodes once; every node decodes and checks before it applies.
 *
 * The check is a table per command type, typed per field (as src/protocol/wal-validation.ts): a
 * field added to commands.ts without a check here does not compile. Built from the allocation-free
 * combinators of src/log/shape-check.ts, so a well-formed entry costs no allocation beyond the
 * decode itself. `payload` and `result` decode as views into the entry's bytes (msgpackr's `bin`
 * is a `subarray`), never a copy per job.
 *
 * Answers: the entry, or a FalconError — UNSUPPORTED_VERSION for a `v` this code does not know,
 * INVALID_ARGUMENT naming the command's position, its type and the field otherwise.
 *
 * Invariants of an accepted entry: `v === queueFormatVersion`; `atMs` a safe integer ≥ 0; every
 * command has every field its type declares with the type commands.ts gives it; the enqueue
 * commands of one entry hold at most `jobsPerEntryMax` jobs together (job ids depend on it).
 *
 * Runs on: Dispatcher thread (encode), Replicator thread and the simulator (decode).
 */
import { falconError, type FalconError } from '../errors.js';
import { Packr, decode } from '../codec/msgpack.js';
import {
  arrayOf, asChecked, boolean, bytes, compile, fields, integerFrom, isMap, oneOf, optional, positiveSafeInteger,
  readableProblem, safeInteger, textOfUtf8Bytes, type FieldChecks, type MessageChecks, type ShapeCheck,
} from '../log/shape-check.js';
import {
  jobsPerEntryMax, queueFormatVersion,
  type Backoff, type JobDefaults, type JobSpec, type ProducerStamp, type QueueCommand, type QueueEntry, type QueueLimits,
} from './commands.js';

/** Bytes of a queue name: enough for a dotted path, small enough to sit in every job's view. */
export const queueNameBytesMax = 256;
/** Bytes of an idempotency key, a producer id or a worker id: room for a UUID plus a prefix. */
export const identifierBytesMax = 256;
/** Bytes of a nack's error text: a stack trace's head, not a log file. */
export const errorTextBytesMax = 16 * 1024;
/** Queues one worker registers for. */
export const workerQueuesMax = 256;

const queueName = textOfUtf8Bytes(1, queueNameBytesMax, `a queue name of 1 to ${queueNameBytesMax} bytes`);
const identifier = textOfUtf8Bytes(1, identifierBytesMax, `an identifier of 1 to ${identifierBytesMax} bytes`);
const workerId = textOfUtf8Bytes(0, identifierBytesMax, `a worker id of 0 to ${identifierBytesMax} bytes`);
const errorText = textOfUtf8Bytes(0, errorTextBytesMax, `an error text of at most ${errorTextBytesMax} bytes`);
const jobId = positiveSafeInteger;
const token = positiveSafeInteger;
const durationMs = safeInteger;

/** A number in [minimum, maximum] (or [minimum, maximum) when `maximumOpen`). */
function fraction(maximumOpen: boolean): ShapeCheck {
  const phrase = maximumOpen ? 'is not a number in [0, 1)' : 'is not a number in [0, 1]';
  return (value) => (typeof value === 'number' && value >= 0 && (maximumOpen ? value < 1 : value <= 1) ? undefined : phrase);
}

const backoffFields: FieldChecks<Backoff> = {
  kind: oneOf('fixed', 'exponential'),
  delayMs: durationMs,
  delayMsMax: durationMs,
  jitterRatio: fraction(false),
};
const backoff = fields(backoffFields);

const jobDefaultsFields: FieldChecks<JobDefaults> = {
  attemptsMax: positiveSafeInteger,
  leaseMs: positiveSafeInteger,
  backoff,
};

const queueLimitsFields: FieldChecks<QueueLimits> = {
  jobsPerQueueMax: safeInteger,
  bytesPerQueueMax: safeInteger,
  queuesMax: safeInteger,
  idempotencyKeysMax: safeInteger,
  dedupWindowMs: durationMs,
  completedRetentionMs: durationMs,
  completedPerQueueMax: safeInteger,
  producersMax: safeInteger,
};

const jobSpecFields: FieldChecks<JobSpec> = {
  payload: bytes,
  contentType: optional(integerFrom(0, 2)),
  priority: optional(integerFrom(-(2 ** 31), 2 ** 31 - 1)),
  delayMs: optional(durationMs),
  attemptsMax: optional(positiveSafeInteger),
  leaseMs: optional(positiveSafeInteger),
  backoff: optional(backoff),
  key: optional(identifier),
};

const producerStampFields: FieldChecks<ProducerStamp> = {
  id: identifier,
  sequence: safeInteger,
  retry: optional(boolean),
};

/** Every command type and its fields: the one list of them. */
const commandFields: { readonly [Type in QueueCommand['type']]: MessageChecks<Extract<QueueCommand, { type: Type }>> } = {
  enqueue: {
    queue: queueName,
    jobs: arrayOf(fields(jobSpecFields), jobsPerEntryMax),
    // Absent when the entry carries them once for all its enqueues (see encodeQueueEntry).
    defaults: optional(fields(jobDefaultsFields)),
    limits: optional(fields(queueLimitsFields)),
    producer: optional(fields(producerStampFields)),
  },
  lease: { queue: queueName, jobsMax: integerFrom(1, jobsPerEntryMax), bytesMax: positiveSafeInteger, leaseMs: positiveSafeInteger, workerId },
  ack: { jobId, token, result: optional(bytes) },
  nack: { jobId, token, error: errorText, retryable: boolean, delayMs: optional(durationMs), jitter: fraction(true) },
  extend: { jobId, token, leaseMs: positiveSafeInteger },
  expireLeases: { graceMs: durationMs, jitterSeed: safeInteger },
  registerWorker: { workerId: identifier, queues: arrayOf(queueName, workerQueuesMax), capacity: safeInteger },
  releaseWorker: { workerId: identifier, reason: oneOf('ttlExpired', 'goodbye'), jitterSeed: safeInteger },
  cancel: { jobId },
  pauseQueue: { queue: queueName },
  resumeQueue: { queue: queueName },
  redrive: { queue: queueName, jobsMax: positiveSafeInteger },
  purge: { queue: queueName, set: oneOf('ready', 'dead') },
};

const commandChecks = compile(commandFields);
/** `isMap` as a check (a command is a map; its fields are checked by its type's table). */
const mapCheck: ShapeCheck = (value) => (isMap(value) ? undefined : 'is not a map');
const entryCheck = fields({
  atMs: safeInteger, commands: arrayOf(mapCheck), leaseBytesMax: optional(positiveSafeInteger),
  defaults: optional(fields(jobDefaultsFields)), limits: optional(fields(queueLimitsFields)), filler: optional(bytes),
});

/** Plain MessagePack with absent optional fields left out (msgpackr would write `undefined` as an
 *  extension no other library reads). */
const entryPackr = new Packr({
  useRecords: false, moreTypes: false, structuredClone: false, mapsAsObjects: true, int64AsType: 'number', skipValues: [undefined],
});

/**
 * The bytes of a `normal` entry holding `entry`. When every enqueue of the entry shares its
 * defaults and limits (the Dispatcher stamps the same cluster.yaml values on each), they are
 * written once at the entry's level instead of once per enqueue: a turn of single-job requests
 * would otherwise carry them hundreds of times. `decodeQueueEntry` puts them back on each enqueue.
 */
export function encodeQueueEntry(entry: QueueEntry): Uint8Array {
  let shared: { defaults: JobDefaults; limits: QueueLimits } | undefined;
  let enqueues = 0;
  for (const command of entry.commands) {
    if (command.type !== 'enqueue') continue;
    enqueues += 1;
    if (shared === undefined) shared = { defaults: command.defaults, limits: command.limits };
    else if (command.defaults !== shared.defaults || command.limits !== shared.limits) return entryPackr.pack(entry);
  }
  if (shared === undefined || enqueues < 2) return entryPackr.pack(entry);
  const commands = entry.commands.map((command) => (command.type === 'enqueue' ? { ...command, defaults: undefined, limits: undefined } : command));
  return entryPackr.pack({ ...entry, commands, defaults: shared.defaults, limits: shared.limits });
}

/** Gives each enqueue of a checked entry the entry's shared defaults and limits it left out. */
function withSharedSettings(value: Readonly<Record<string, unknown>>, commands: readonly Record<string, unknown>[]): FalconError | undefined {
  for (let at = 0; at < commands.length; at += 1) {
    const command = commands[at] as Record<string, unknown>;
    if (command['type'] !== 'enqueue') continue;
    for (const field of ['defaults', 'limits'] as const) {
      if (command[field] !== undefined) continue;
      if (value[field] === undefined) return invalid(`queue entry command [${at}] (enqueue) has no ${field}, and neither has the entry`);
      command[field] = value[field];
    }
  }
  return undefined;
}

function invalid(message: string): FalconError {
  return falconError('INVALID_ARGUMENT', message);
}

/** The problem of command `at`, or undefined; adds its jobs to `jobs.count`. */
function checkCommand(command: Readonly<Record<string, unknown>>, at: number, jobs: { count: number }): FalconError | undefined {
  const type = command['type'];
  const check = typeof type === 'string' ? commandChecks.get(type) : undefined;
  if (check === undefined) return invalid(`queue entry command [${at}] has an unknown type ${JSON.stringify(type)}`);
  const problem = check(command);
  if (problem !== undefined) return invalid(`queue entry command [${at}] (${type}) ${readableProblem(problem)}`);
  if (type === 'enqueue') {
    jobs.count += (command['jobs'] as readonly unknown[]).length;
    if (jobs.count > jobsPerEntryMax) {
      return invalid(`queue entry command [${at}] (enqueue) brings the entry's jobs to ${jobs.count}, above jobsPerEntryMax ${jobsPerEntryMax}`);
    }
  }
  return undefined;
}

/** `value` as a QueueEntry, or the error naming what is wrong. */
export function checkQueueEntry(value: unknown): QueueEntry | FalconError {
  if (!isMap(value)) return invalid('queue entry is not a map');
  const version = value['v'];
  if (version !== queueFormatVersion) {
    return falconError('UNSUPPORTED_VERSION', `queue entry format version ${String(version)} is not the version this node reads (${queueFormatVersion})`);
  }
  const problem = entryCheck(value);
  if (problem !== undefined) return invalid(`queue entry ${readableProblem(problem)}`);
  const commands = value['commands'] as readonly Record<string, unknown>[];
  const jobs = { count: 0 };
  for (let at = 0; at < commands.length; at += 1) {
    const error = checkCommand(commands[at] as Readonly<Record<string, unknown>>, at, jobs);
    if (error !== undefined) return error;
  }
  const missing = withSharedSettings(value, commands);
  if (missing !== undefined) return missing;
  return asChecked<QueueEntry>(value);
}

/** The entry `data` holds, or the error naming what is wrong (bytes that are not MessagePack too). */
export function decodeQueueEntry(data: Uint8Array): QueueEntry | FalconError {
  let value: unknown;
  try {
    value = decode(data);
  } catch (error) {
    return invalid(`queue entry is not MessagePack: ${error instanceof Error ? error.message : String(error)}`);
  }
  return checkQueueEntry(value);
}
