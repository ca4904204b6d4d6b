/**
 * A cluster file for tests: free loopback ports, data directories under a fresh temp directory,
 * and helpers to start `falcon-node` processes and wait for them by bounded polling of their ops
 * port (the only signal a separate process gives). Every process started here is stopped by PID
 * in `cleanup()`; the temp directory is removed.
 *
 * Runs on: test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { freePorts } from './free-port.js';

export const falconNodeEntry = fileURLToPath(new URL('../../src/cli/falcon-node.js', import.meta.url));

export interface TestNode {
  readonly id: string;
  readonly peerPort: number;
  readonly clientPort: number;
  readonly opsPort: number;
  /** Set when the cluster was made with `grpc: true`. */
  readonly grpcPort?: number;
}

export interface TestCluster {
  readonly dir: string;
  readonly configPath: string;
  readonly nodes: readonly TestNode[];
  /** Per node, its own cluster file when peers must be dialed elsewhere (`writeNodeConfigFiles`). */
  readonly nodeConfigPaths?: Readonly<Record<string, string>>;
}

export interface TestClusterOptions {
  readonly nodeCount?: number;
  /** Extra YAML appended to the file (sections such as `supervisor:`). */
  readonly extraYaml?: string;
  /** logging.level of every thread; in-process tests keep it at warn so actors stay quiet. */
  readonly logLevel?: string;
  /** Give every node a grpcPort (a free one), so that it serves FalconQueueService. */
  readonly grpc?: boolean;
}

export async function createTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const nodeCount = options.nodeCount ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'falcon-test-'));
  const portsPerNode = options.grpc === true ? 4 : 3;
  const ports = await freePorts(nodeCount * portsPerNode);
  const nodes: TestNode[] = [];
  const lines = ['cluster:', '  name: falcon-test', 'nodes:'];
  for (let i = 0; i < nodeCount; i += 1) {
    const [peerPort = 0, clientPort = 0, opsPort = 0, grpcPort] = ports.slice(i * portsPerNode, (i + 1) * portsPerNode);
    const node: TestNode = { id: `n${i + 1}`, peerPort, clientPort, opsPort, ...(grpcPort === undefined ? {} : { grpcPort }) };
    nodes.push(node);
    lines.push(`  - id: ${node.id}`, '    host: 127.0.0.1', `    peerPort: ${peerPort}`, `    clientPort: ${clientPort}`,
      `    opsPort: ${opsPort}`, ...(grpcPort === undefined ? [] : [`    grpcPort: ${grpcPort}`]), `    dataDir: ./data/${node.id}`);
  }
  lines.push('logging:', `  level: ${options.logLevel ?? 'info'}`);
  const configPath = join(dir, 'cluster.yaml');
  await writeFile(configPath, `${lines.join('\n')}\n${options.extraYaml ?? ''}`);
  return { dir, configPath, nodes };
}

/**
 * Writes one cluster file per node, the same as the cluster's but for the peer ports each node
 * dials (`peerPortSeenBy(viewer, peer)`, e.g. a fault network's proxies), beside the shared file
 * so that relative data directories resolve alike. Returns the cluster with `nodeConfigPaths`.
 */
export async function writeNodeConfigFiles(cluster: TestCluster, peerPortSeenBy: (viewer: string, peer: string) => number): Promise<TestCluster> {
  const text = await readFile(cluster.configPath, 'utf8');
  const nodeConfigPaths: Record<string, string> = {};
  for (const viewer of cluster.nodes) {
    const document = parseDocument(text);
    cluster.nodes.forEach((peer, index) => document.setIn(['nodes', index, 'peerPort'], peerPortSeenBy(viewer.id, peer.id)));
    const path = join(cluster.dir, `cluster-${viewer.id}.yaml`);
    await writeFile(path, document.toString());
    nodeConfigPaths[viewer.id] = path;
  }
  return { ...cluster, nodeConfigPaths };
}

/** A started process whose output is kept for assertions and failure messages. */
export interface StartedProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

export function startProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): StartedProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  started.add(child);
  void exited.then(() => started.delete(child));
  return { child, output: () => output, exited };
}

const started = new Set<ChildProcess>();

/** Kills (SIGKILL, by PID) every process this module started that is still running. */
export async function killStartedProcesses(): Promise<void> {
  const running = [...started];
  await Promise.all(running.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  })));
}

export async function removeTestCluster(cluster: TestCluster): Promise<void> {
  await killStartedProcesses();
  await rm(cluster.dir, { recursive: true, force: true });
}

/**
 * Polls `url` until `accept(status)` holds or `timeoutMs` passes; then fails with what it last saw.
 * Polling is the only signal a separate process offers over HTTP; the wait is bounded.
 */
export async function waitForHttp(url: string, accept: (status: number, body: string) => boolean, timeoutMs: number, describe: () => string = () => ''): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      const body = await response.text();
      if (accept(response.status, body)) return { status: response.status, body };
      last = `${response.status} ${body}`;
    } catch (error) {
      last = String((error as { cause?: unknown }).cause ?? error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not reach the expected state within ${timeoutMs} ms; last answer: ${last}\n${describe()}`);
}

/** Resolves with the exit code, or fails after `timeoutMs` with the process output. */
export async function waitForExit(process_: StartedProcess, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`process ${process_.child.pid ?? '?'} did not exit within ${timeoutMs} ms; output:\n${process_.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([process_.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
