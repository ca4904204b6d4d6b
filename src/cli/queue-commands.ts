/**
 * The `falcon` commands about queues: `stats`, `pause`, `resume`, `dead list`, `dead redrive`
 * and `purge`. JSON shapes (docs/cli.md):
 *
 *   stats         {"queues":[{"queue":"email","paused":false,"ready":3,...}]}
 *   pause/resume  {"queue":"email","paused":true}
 *   dead list     {"queue":"email","state":"dead","jobs":[...],"nextAfterId":null}
 *   dead redrive  {"queue":"email","redriven":4}
 *   purge         {"queue":"email","set":"ready","purged":10}
 *
 * `purge` cannot be undone: it asks on a terminal unless `--yes`, and without a terminal it
 * refuses (exit 2) unless `--yes`, so a script never purges by accident.
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { QueueStats } from '../client/index.js';
import { parseInteger } from './cli-arguments.js';
import { commandAction, type CliContext } from './cli-context.js';
import { CliFailure, cliExitCodes, usageFailure } from './cli-failure.js';
import { addListOptions, listJobs, pageText, type ListFlags } from './job-commands.js';
import { formatAgeMs, formatTable } from './text-table.js';

/** Queues as a table: depth by state, pause, oldest ready age, totals. */
export function statsText(queues: readonly QueueStats[]): string {
  if (queues.length === 0) return 'no queues';
  return formatTable(['QUEUE', 'PAUSED', 'READY', 'DELAYED', 'LEASED', 'DEAD', 'COMPLETED', 'OLDEST READY', 'ENQUEUED', 'ACKED', 'NACKED', 'EXPIRED'],
    queues.map((queue) => [queue.queue, queue.paused, queue.ready, queue.delayed, queue.leased, queue.dead, queue.completed,
      queue.ready === 0 ? '-' : formatAgeMs(queue.oldestReadyAgeMs), queue.enqueuedTotal, queue.ackedTotal, queue.nackedTotal, queue.expiredTotal]));
}

async function stats(context: CliContext, queue: string | undefined): Promise<void> {
  const client = context.client();
  let queues: QueueStats[];
  if (queue === undefined) {
    queues = await client.stats();
  } else {
    const one = await client.stats(queue);
    if (one === undefined) throw new CliFailure(cliExitCodes.notFound, 'NOT_FOUND', `queue '${queue}' does not exist`, { queue });
    queues = [one];
  }
  context.emit({ queues }, () => statsText(queues));
}

/** True when the person at the terminal typed y or yes. */
async function confirmed(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

async function purge(context: CliContext, queue: string, flags: { dead?: boolean; yes?: boolean }): Promise<void> {
  const set = flags.dead === true ? 'dead' : 'ready';
  const what = set === 'dead' ? `every dead job of queue '${queue}'` : `every ready and delayed job of queue '${queue}'`;
  if (flags.yes !== true) {
    if (process.stdin.isTTY !== true) throw usageFailure(`purge deletes ${what} and cannot be undone: give --yes to confirm (no terminal to ask on)`, '--yes');
    if (!(await confirmed(`Delete ${what}? This cannot be undone.`))) throw usageFailure('purge not confirmed; nothing was deleted', '--yes');
  }
  const purged = await context.client().purge(queue, set);
  context.emit({ queue, set, purged }, () => `purged ${purged} ${set === 'dead' ? 'dead' : 'ready and delayed'} job${purged === 1 ? '' : 's'} of ${queue}`);
}

export function registerQueueCommands(program: Command): void {
  program.command('stats')
    .description('figures of every queue, or of one: depth by state, oldest ready age, totals')
    .argument('[queue]', 'one queue (default: every queue)')
    .addHelpText('after', '\nExamples:\n  falcon stats\n  falcon stats email --json')
    .action(commandAction(async (context, [queue]) => stats(context, queue)));

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    program.command(verb)
      .description(paused ? 'stop leasing a queue\'s jobs (enqueues are still taken)' : 'lease a paused queue\'s jobs again')
      .argument('<queue>', 'queue name')
      .addHelpText('after', `\nExample:\n  falcon ${verb} email`)
      .action(commandAction(async (context, [queue]) => {
        await (paused ? context.client().pause(queue as string) : context.client().resume(queue as string));
        context.emit({ queue, paused }, () => `queue ${queue} ${paused ? 'paused' : 'resumed'}`);
      }));
  }

  const dead = program.command('dead').description('the dead-letter set: jobs whose attempts ran out (or that failed for good)');
  addListOptions(dead.command('list')
    .description('list a queue\'s dead jobs (falcon get ID shows the last error)')
    .argument('<queue>', 'queue name'))
    .addHelpText('after', '\nExample:\n  falcon dead list email --limit 50')
    .action(commandAction(async (context, [queue], command) => {
      const page = await listJobs(context, queue as string, 'dead', command.opts<ListFlags>());
      context.emit({ queue, state: 'dead', jobs: page.jobs, nextAfterId: page.nextAfterId }, () => pageText(queue as string, 'dead', page));
    }));
  dead.command('redrive')
    .description('move dead jobs back to ready, oldest first (their attempts start over)')
    .argument('<queue>', 'queue name')
    .option('--max <n>', 'move at most this many, 1 to 65536 (default 4096)')
    .addHelpText('after', '\nExample:\n  falcon dead redrive email --max 100')
    .action(commandAction(async (context, [queue], command) => {
      const max = command.opts<{ max?: string }>().max;
      const redriven = await context.client().redrive(queue as string, max === undefined ? {} : { jobsMax: parseInteger(max, '--max', 1) });
      context.emit({ queue, redriven }, () => `moved ${redriven} dead job${redriven === 1 ? '' : 's'} of ${queue} back to ready`);
    }));

  program.command('purge')
    .description('delete a queue\'s ready and delayed jobs (or, with --dead, its dead jobs); asks first')
    .argument('<queue>', 'queue name')
    .option('--dead', 'delete the dead-letter set instead')
    .option('-y, --yes', 'do not ask (needed without a terminal)')
    .addHelpText('after', '\nExamples:\n  falcon purge email\n  falcon purge email --dead --yes --json')
    .action(commandAction(async (context, [queue], command) => purge(context, queue as string, command.opts<{ dead?: boolean; yes?: boolean }>())));
}
