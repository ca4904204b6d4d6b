/**
 * The `falcon` commands about jobs: `enqueue`, `get`, `list` and `cancel`, and the job views
 * they print (shared with `dead list`). JSON shapes (docs/cli.md):
 *
 *   enqueue  {"id":12,"state":"ready","duplicate":false}
 *   get      {"id":12,"queue":"email","state":"completed",...,"payload":<JSON value>|"payloadBase64":"...","history":[...]}
 *   list     {"queue":"email","state":"ready","jobs":[{"id":12,...}],"nextAfterId":13|null}
 *   cancel   {"id":12,"cancelled":true}
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { Option, type Command } from 'commander';
import type { EnqueueOptions, JobInfo, JobPage, JobState, JobSummary } from '../client/index.js';
import { parseBackoff, parseDurationMs, parseInteger, parseJobId } from './cli-arguments.js';
import { commandAction, type CliContext } from './cli-context.js';
import { usageFailure } from './cli-failure.js';
import { payloadBytesMaxDefault, readPayload } from './payload-input.js';
import { formatAgeMs, formatFields, formatTable, formatTimeMs } from './text-table.js';

export const jobStates: readonly JobState[] = ['ready', 'delayed', 'leased', 'completed', 'dead', 'cancelled'];

interface EnqueueFlags {
  readonly file?: string;
  readonly raw?: boolean;
  readonly priority?: string;
  readonly delay?: string;
  readonly attempts?: string;
  readonly backoff?: string;
  readonly idempotencyKey?: string;
}

function enqueueOptionsOf(flags: EnqueueFlags): EnqueueOptions {
  const options: { -readonly [K in keyof EnqueueOptions]: EnqueueOptions[K] } = {};
  if (flags.priority !== undefined) options.priority = parseInteger(flags.priority, '--priority');
  if (flags.delay !== undefined) options.delayMs = parseDurationMs(flags.delay, '--delay');
  if (flags.attempts !== undefined) options.attemptsMax = parseInteger(flags.attempts, '--attempts', 1);
  if (flags.backoff !== undefined) options.backoff = parseBackoff(flags.backoff);
  if (flags.idempotencyKey !== undefined) options.idempotencyKey = flags.idempotencyKey;
  return options;
}

async function enqueue(context: CliContext, queue: string, payloadArgument: string | undefined, flags: EnqueueFlags): Promise<void> {
  const options = enqueueOptionsOf(flags);
  const payload = await readPayload({ argument: payloadArgument, file: flags.file, raw: flags.raw }, context.payloadBytesMax() ?? payloadBytesMaxDefault);
  const job = await context.client().enqueue(queue, payload.bytes, { ...options, contentType: payload.contentType });
  context.emit({ id: job.id, state: job.state, duplicate: job.duplicate }, () => (job.duplicate
    ? `job ${job.id} already exists with this idempotency key (${job.state}); nothing added`
    : `enqueued job ${job.id} on ${queue} (${job.state})`));
}

/** A job's payload (or result) as JSON: the decoded value, or base64 when it is bytes. */
function valueFields(name: 'payload' | 'result', value: unknown): Record<string, unknown> {
  if (value instanceof Uint8Array) return { [`${name}Base64`]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return { [name]: value };
}

/** The job as `get --json` prints it: every field of the SDK's JobInfo but the raw bytes. */
export function jobView(job: JobInfo): Record<string, unknown> {
  const { payload, payloadBytes: _payloadBytes, result, resultBytes: _resultBytes, ...fields } = job;
  return { ...fields, ...valueFields('payload', payload), ...(result === undefined && job.resultBytes === undefined ? {} : valueFields('result', result)) };
}

function valueText(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.byteLength} bytes (base64 ${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64').slice(0, 60)})`;
  return JSON.stringify(value) ?? String(value);
}

function jobText(job: JobInfo): string {
  const fields = formatFields([
    ['id', job.id], ['queue', job.queue], ['state', job.state], ['priority', job.priority],
    ['attempts', `${job.attempts} of ${job.attemptsMax}`], ['content type', job.contentType],
    ['enqueued', formatTimeMs(job.enqueuedAtMs)], ['run at', formatTimeMs(job.runAtMs)], ['updated', formatTimeMs(job.updatedAtMs)],
    ...(job.idempotencyKey === undefined ? [] : [['idempotency key', job.idempotencyKey] as const]),
    ...(job.workerId === undefined ? [] : [['worker', job.workerId] as const, ['lease ends', formatTimeMs(job.leaseDeadlineMs ?? Number.NaN)] as const]),
    ['payload', valueText(job.payload)],
    ...(job.resultBytes === undefined ? [] : [['result', valueText(job.result)] as const]),
    ...(job.lastError === undefined ? [] : [['last error', job.lastError] as const]),
  ]);
  const history = job.history.map((step) => `  ${formatTimeMs(step.atMs)}  ${step.state}${step.reason === undefined ? '' : ` (${step.reason})`}`);
  return `${fields}\nhistory:\n${history.join('\n')}`;
}

async function get(context: CliContext, idText: string): Promise<void> {
  const job = await context.client().get(parseJobId(idText));
  context.emit(jobView(job), () => jobText(job));
}

export interface ListFlags {
  readonly after?: string;
  readonly limit?: string;
  readonly all?: boolean;
}

/** One page (or, with --all, every page) of `queue`'s jobs in `state`. */
export async function listJobs(context: CliContext, queue: string, state: JobState, flags: ListFlags): Promise<JobPage> {
  const limit = flags.limit === undefined ? undefined : parseInteger(flags.limit, '--limit', 1);
  const afterId = flags.after === undefined ? undefined : parseInteger(flags.after, '--after', 0);
  const options = { ...(limit === undefined ? {} : { limit }) };
  if (flags.all !== true) return context.client().list(queue, state, { ...options, ...(afterId === undefined ? {} : { afterId }) });
  if (afterId !== undefined) throw usageFailure('--all lists from the first job: leave --after out', '--after');
  const jobs: JobSummary[] = [];
  for await (const job of context.client().listAll(queue, state, options)) jobs.push(job);
  return { jobs, nextAfterId: null };
}

/** A page as a table (with the next page's command when there is one). */
export function pageText(queue: string, state: string, page: JobPage, nowMs = Date.now()): string {
  if (page.jobs.length === 0) return `no ${state} jobs on ${queue}`;
  const table = formatTable(['ID', 'STATE', 'PRIORITY', 'ATTEMPTS', 'AGE', 'RUN AT'],
    page.jobs.map((job) => [job.id, job.state, job.priority, job.attempts, formatAgeMs(nowMs - job.enqueuedAtMs), formatTimeMs(job.runAtMs)]));
  return page.nextAfterId === null ? table : `${table}\n(more: --after ${page.nextAfterId})`;
}

function checkState(state: string): JobState {
  if (!(jobStates as readonly string[]).includes(state)) throw usageFailure(`--state must be one of ${jobStates.join(', ')}, got '${state}'`, '--state');
  return state as JobState;
}

/** --after, --limit and --all (list and dead list). */
export function addListOptions(command: Command): Command {
  return command
    .option('--after <id>', 'only jobs with a larger id (the previous page\'s "more: --after N")')
    .option('--limit <n>', 'jobs per page, 1 to 1000 (default 100)')
    .option('--all', 'every page, one after the other');
}

export function registerJobCommands(program: Command): void {
  program.command('enqueue')
    .description('add a job to a queue (created on first use); prints its id')
    .argument('<queue>', 'queue name')
    .argument('[payload]', 'the payload as JSON text; "-" or absent: read stdin')
    .option('-f, --file <file>', 'read the payload from a file')
    .option('--raw', 'store the bytes as they are (application/octet-stream) instead of JSON')
    .option('-p, --priority <n>', 'higher runs first, -2^31 to 2^31-1 (default 0)')
    .option('-d, --delay <duration>', 'not before this long from now: ms, or 30s, 5m, 2h')
    .option('-a, --attempts <n>', 'attempts before the job is dead-lettered, 1 to 1000 (default: the cluster\'s)')
    .option('-b, --backoff <spec>', 'retry waits: fixed:DELAY or exponential:DELAY[:MAX[:JITTER]], e.g. exponential:1000:60000')
    .option('-k, --idempotency-key <key>', 'a second enqueue with this key within the dedup window adds nothing')
    .addHelpText('after', `
Examples:
  falcon enqueue email '{"to":"a@b.c"}'
  falcon enqueue email --file mail.json --priority 5 --delay 30s --attempts 3 --backoff exponential:1000:60000
  echo '{"to":"a@b.c"}' | falcon enqueue email --idempotency-key order-1234 --json
  falcon enqueue images --raw --file photo.jpg`)
    .action(commandAction(async (context, [queue, payload], command) => enqueue(context, queue as string, payload, command.opts<EnqueueFlags>())));

  program.command('get')
    .description('show a job: state, payload, result, attempts, history')
    .argument('<id>', 'job id')
    .addHelpText('after', '\nExample:\n  falcon get 12 --json')
    .action(commandAction(async (context, [id]) => get(context, id as string)));

  addListOptions(program.command('list')
    .description('list a queue\'s jobs in one state, by id, a page at a time')
    .argument('<queue>', 'queue name')
    .addOption(new Option('-s, --state <state>', 'job state').choices([...jobStates]).default('ready')))
    .addHelpText('after', '\nExamples:\n  falcon list email --state ready --limit 20\n  falcon list email --state dead --all --json')
    .action(commandAction(async (context, [queue], command) => {
      const flags = command.opts<ListFlags & { state: string }>();
      const state = checkState(flags.state);
      const page = await listJobs(context, queue as string, state, flags);
      context.emit({ queue, state, jobs: page.jobs, nextAfterId: page.nextAfterId }, () => pageText(queue as string, state, page));
    }));

  program.command('cancel')
    .description('remove a job that is not leased (ready, delayed or dead)')
    .argument('<id>', 'job id')
    .addHelpText('after', '\nExample:\n  falcon cancel 12')
    .action(commandAction(async (context, [idText]) => {
      const id = parseJobId(idText as string);
      await context.client().cancel(id);
      context.emit({ id, cancelled: true }, () => `cancelled job ${id}`);
    }));
}
