/**
 * `falcon-node --config cluster.yaml` without `--node`: runs every node of the file as a child
 * process on this machine (what `npm start` does), prefixes their log lines with the node id, and
 * stops them all on Ctrl-C / SIGTERM.
 *
 * A child that dies is reported and the others keep running: a cluster is built to survive the
 * loss of a minority, and that is exactly what a person trying it out may want to see. The
 * launcher exits once every child has exited. Children watch the IPC channel to the launcher:
 * if the launcher itself is killed, they drain and stop instead of running on as orphans.
 *
 * Runs on: the launcher process (main thread).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../config/cluster-config.js';
import { exitCodes } from '../runtime/exit-codes.js';

export interface LaunchOptions {
  readonly configPath: string;
  readonly config: ClusterConfig;
  readonly logFormat: 'pretty' | 'json';
  readonly logLevel: string | undefined;
  readonly repairCorruption: boolean;
  readonly testHooks: boolean;
}

/** Margin on top of the nodes' own shutdown bound before the launcher kills a child. */
const killMarginMs = 3_000;
const nodeEntryPath = fileURLToPath(new URL('./falcon-node.js', import.meta.url));

export function describeExitCode(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `killed by ${signal}`;
  switch (code) {
    case exitCodes.ok: return 'exit 0, stopped cleanly';
    case exitCodes.refusedToStart: return 'exit 2, refused to start (see its log line above)';
    case exitCodes.actorFailed: return 'exit 3, an actor kept failing (see its log line above)';
    default: return `exit ${String(code)}, unexpected error (see its log above)`;
  }
}

export function portsTable(config: ClusterConfig, configPath: string): string {
  const lines = [
    `FalconQueue: cluster '${config.cluster.name}' from ${configPath}, ${config.nodes.length} nodes on this machine`,
    `  ${'node'.padEnd(6)}${'peer'.padEnd(22)}${'client'.padEnd(22)}ops (health, readiness, metrics, status)`,
  ];
  for (const node of config.nodes) {
    lines.push(`  ${node.id.padEnd(6)}${`${node.host}:${node.peerPort}`.padEnd(22)}${`${node.host}:${node.clientPort}`.padEnd(22)}http://${node.host}:${node.opsPort}/status`);
  }
  lines.push('Press Ctrl-C to stop every node.');
  return lines.join('\n');
}

export function launchCluster(options: LaunchOptions): Promise<number> {
  const { config } = options;
  process.stdout.write(`${portsTable(config, options.configPath)}\n`);
  const children = new Map<string, ChildProcess>();
  const exitCodesByNode = new Map<string, number>();
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const idWidth = Math.max(...config.nodes.map((node) => node.id.length));

  return new Promise((resolve) => {
    const onAllExited = (): void => {
      clearTimeout(killTimer);
      process.off('SIGINT', stopAll);
      process.off('SIGTERM', stopAll);
      const failures = [...exitCodesByNode.values()].filter((code) => code !== exitCodes.ok);
      resolve(failures[0] ?? exitCodes.ok);
    };
    const stopAll = (): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`stopping ${children.size} node(s)...\n`);
      for (const child of children.values()) child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        for (const [id, child] of children) {
          process.stdout.write(`${id} did not stop in time; sending SIGKILL\n`);
          child.kill('SIGKILL');
        }
      }, config.supervisor.shutdownTimeoutMs + killMarginMs);
    };
    process.on('SIGINT', stopAll);
    process.on('SIGTERM', stopAll);

    for (const node of config.nodes) {
      const args = [nodeEntryPath, '--config', options.configPath, '--node', node.id, '--log-format', options.logFormat];
      if (options.logLevel !== undefined) args.push('--log-level', options.logLevel);
      if (options.repairCorruption) args.push('--repair-corruption');
      if (options.testHooks) args.push('--test-hooks');
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      children.set(node.id, child);
      const prefix = `[${node.id.padEnd(idWidth)}] `;
      for (const stream of [child.stdout, child.stderr]) {
        if (stream === null) continue;
        createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix}${line}\n`));
      }
      child.on('exit', (code, signal) => {
        children.delete(node.id);
        exitCodesByNode.set(node.id, stopping && signal === 'SIGKILL' ? exitCodes.internalError : code ?? exitCodes.internalError);
        process.stdout.write(`${prefix}node exited (${describeExitCode(code, signal)})${stopping ? '' : '; the other nodes keep running'}\n`);
        if (children.size === 0) onAllExited();
      });
    }
  });
}
