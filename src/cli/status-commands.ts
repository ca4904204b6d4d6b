/**
 * `falcon status` (the cluster once) and `falcon watch` (redrawn in place every `--interval`
 * seconds until Ctrl-C, or `--count` frames), both from each node's /status (cluster-status.ts).
 *
 * Exit code: 0 when a leader answered and every node answered healthy and ready; 3 when no node
 * answered or none leads; 7 (degraded) otherwise. `watch` exits with its last frame's code.
 * JSON: `status` prints one ClusterStatus object; `watch --json` prints one per frame, one per line.
 *
 * Runs on: an operator's shell (the falcon process).
 */
import type { Command } from 'commander';
import { commandAction, jsonSafe, type CliContext } from './cli-context.js';
import { cliExitCodes, usageFailure, type CliExitCode } from './cli-failure.js';
import { clusterHealthy, clusterStatus, type ClusterStatus, type NodeRow } from './cluster-status.js';
import { statsText } from './queue-commands.js';
import { formatAgeMs, formatTable, formatTimeMs } from './text-table.js';

/** The shortest `watch --interval`: each frame asks every node for its whole /status. */
const watchIntervalSecondsMin = 0.1;

function exitCodeOf(status: ClusterStatus): CliExitCode {
  if (status.leader === null) return cliExitCodes.unreachable;
  return clusterHealthy(status) ? cliExitCodes.ok : cliExitCodes.degraded;
}

function healthText(node: NodeRow): string {
  return node.healthy === true ? 'healthy' : 'FAILING';
}

function nodesText(status: ClusterStatus): string {
  const table = formatTable(['NODE', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'HEALTH', 'READY', 'UPTIME', 'PID', 'OPS'],
    status.nodes.map((node) => (node.reachable
      ? [node.node, node.role, node.term, node.commitIndex, node.appliedIndex, node.lag, healthText(node), node.ready === true ? 'ready' : 'not-ready',
        formatAgeMs(node.uptimeMs ?? Number.NaN), node.pid ?? null, node.opsAddress]
      : [node.node, 'unreachable', null, null, null, null, null, null, null, null, node.opsAddress])));
  const notes = status.nodes.flatMap((node) => {
    if (!node.reachable) return [`  ${node.node}: ${node.error ?? 'no answer'}`];
    const failing = Object.entries(node.failing ?? {}).map(([actor, problem]) => `${actor} (${problem})`);
    const waiting = node.ready === true ? [] : [`  ${node.node}: not ready, waiting for ${(node.waitingFor ?? []).join(', ') || 'nothing named'}`];
    return [...(failing.length === 0 ? [] : [`  ${node.node}: failing: ${failing.join(', ')}`]), ...waiting];
  });
  return notes.length === 0 ? table : `${table}\n${notes.join('\n')}`;
}

function workersText(status: ClusterStatus): string {
  if (status.workers.length === 0) return 'no workers registered';
  return formatTable(['WORKER', 'QUEUES', 'CAPACITY', 'LEASES', 'LAST BEAT'],
    status.workers.map((worker) => [worker.workerId, worker.queues.join(','), worker.capacity, worker.leases,
      worker.lastBeatAgeMs === null ? '-' : `${formatAgeMs(worker.lastBeatAgeMs)} ago${worker.releasing ? ' (releasing)' : ''}`]));
}

/** The whole picture as text: nodes, queues, workers. */
export function statusText(status: ClusterStatus): string {
  const leaderNode = status.nodes.find((node) => node.node === status.leader);
  const heading = status.leader === null ? 'cluster: NO LEADER among the nodes that answered' : `cluster: leader ${status.leader} (term ${leaderNode?.term ?? '?'})`;
  const from = status.queuesFrom === null ? '' : ` (as applied by ${status.queuesFrom})`;
  return [heading, '', nodesText(status), '', `queues${from}:`, statsText(status.queues), '', 'workers:', workersText(status)].join('\n');
}

async function status(context: CliContext, ops: string | undefined): Promise<number> {
  const picture = await clusterStatus(context.opsNodes(ops), context.deadlineMs, context.token());
  context.emit(picture, () => statusText(picture));
  return exitCodeOf(picture);
}

function parseInterval(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < watchIntervalSecondsMin) {
    throw usageFailure(`--interval must be a number of seconds of at least ${watchIntervalSecondsMin}, got '${text}'`, '--interval');
  }
  return seconds;
}

/** Frames until `count` (when given) or Ctrl-C; answers the last frame's exit code. */
async function watch(context: CliContext, flags: { interval: string; count?: string; ops?: string }): Promise<number> {
  const intervalMs = parseInterval(flags.interval) * 1000;
  const count = flags.count === undefined ? Number.POSITIVE_INFINITY : Number(flags.count);
  if (!Number.isSafeInteger(count) && count !== Number.POSITIVE_INFINITY || count < 1) throw usageFailure(`--count must be a whole number of at least 1, got '${flags.count ?? ''}'`, '--count');
  const nodes = context.opsNodes(flags.ops);
  const stop = new AbortController();
  const onInterrupt = (): void => stop.abort();
  process.once('SIGINT', onInterrupt);
  const redraw = process.stdout.isTTY === true && !context.json;
  let exitCode: number = cliExitCodes.ok;
  try {
    for (let frame = 1; frame <= count && !stop.signal.aborted; frame += 1) {
      const picture = await clusterStatus(nodes, context.deadlineMs, context.token());
      exitCode = exitCodeOf(picture);
      if (context.json) {
        process.stdout.write(`${JSON.stringify(picture, jsonSafe)}\n`);
      } else {
        const header = `falcon watch  ${formatTimeMs(picture.atMs)}  every ${intervalMs / 1000}s, Ctrl-C to stop`;
        process.stdout.write(`${redraw ? '\x1b[H\x1b[2J' : frame > 1 ? '\n' : ''}${header}\n\n${statusText(picture)}\n`);
      }
      if (frame < count) await sleep(intervalMs, stop.signal);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return exitCode;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const opsOption = ['--ops <host:port,...>', 'ops ports to ask instead of the cluster file\'s nodes'] as const;

export function registerStatusCommands(program: Command): void {
  program.command('status')
    .description('the cluster from every node\'s ops port: nodes (role, term, commit/applied index, lag, health, readiness), queues, workers')
    .option(...opsOption)
    .addHelpText('after', `
Exits 0 when a leader answered and every node is healthy and ready, 3 when no leader answered,
7 when a node is unreachable, unhealthy or not ready.

Examples:
  falcon status --config cluster.yaml
  falcon status --ops 10.0.0.1:7301,10.0.0.2:7301,10.0.0.3:7301 --json`)
    .action(commandAction(async (context, _args, command) => status(context, command.opts<{ ops?: string }>().ops)));

  program.command('watch')
    .description('falcon status, redrawn in place every --interval seconds until Ctrl-C')
    .option('-i, --interval <seconds>', 'seconds between frames', '2')
    .option('-n, --count <n>', 'stop after this many frames')
    .option(...opsOption)
    .addHelpText('after', '\nExamples:\n  falcon watch\n  falcon watch --interval 0.5 --count 10 --json   # one JSON object per frame, one per line')
    .action(commandAction(async (context, _args, command) => watch(context, command.opts<{ interval: string; count?: string; ops?: string }>())));
}
