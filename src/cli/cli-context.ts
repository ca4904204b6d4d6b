/**
 * What every `falcon` command shares: the global options (`--json`, `--config`, `--nodes`,
 * `--token` / FALCON_TOKEN, `--timeout`), the cluster they point at, one FalconClient made on
 * first use, and the two ways out: an answer (one JSON object with `--json`, else text) or a
 * failure (`falcon: <message>` on stderr, plus `{"error":{...}}` on stdout with `--json`).
 *
 * Which cluster: `--nodes host:port,...` (client ports) when given, else the cluster file
 * (`--config`, default `cluster.yaml`), whose nodes give client ports and, for `status` and
 * `watch`, ops ports; its queue.payloadBytesMax and clientFrameBytesMax bound what the client sends.
 *
 * Invariants: with `--json`, stdout carries exactly one JSON object per command (watch: one per
 * frame, one per line); text for people goes to stdout, failures to stderr.
 *
 * Runs on: an operator's shell (the falcon process).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { FalconClient, type NodeAddress } from '../client/index.js';
import { loadClusterConfig } from '../config/load-config.js';
import type { ClusterConfig } from '../config/cluster-config.js';
import { addressText, parseAddressList, parseDurationMs } from './cli-arguments.js';
import { cliFailureOf, usageFailure, type CliFailure } from './cli-failure.js';

/** The options every command takes (commander's `optsWithGlobals()`). */
export interface GlobalFlags {
  readonly json?: boolean;
  readonly config: string;
  readonly nodes?: string;
  readonly token?: string;
  readonly timeout: string;
}

export const defaultConfigPath = 'cluster.yaml';
/** Each call's deadline when `--timeout` is not given: longer than an election, short enough for a person. */
export const defaultTimeout = '10s';
/** Bound on opening one TCP connection: a refused or silent address is left for the next one. */
const connectTimeoutMsMax = 2_000;

/** A node whose ops port `status` may ask. */
export interface OpsNode {
  readonly id: string;
  readonly host: string;
  readonly opsPort: number;
}

export class CliContext {
  readonly json: boolean;
  readonly deadlineMs: number;
  private readonly flags: GlobalFlags;
  private readonly configGiven: boolean;
  private config: ClusterConfig | undefined;
  private falconClient: FalconClient | undefined;

  /** `configGiven`: `--config` was on the command line (not its default). */
  constructor(flags: GlobalFlags, configGiven: boolean) {
    this.flags = flags;
    this.json = flags.json === true;
    this.configGiven = configGiven;
    this.deadlineMs = parseDurationMs(flags.timeout, '--timeout');
  }

  /** The cluster file, loaded once; a usage failure when it cannot be read or is invalid. */
  clusterConfig(): ClusterConfig {
    if (this.config !== undefined) return this.config;
    const path = this.flags.config;
    if (!this.configGiven && !existsSync(path)) {
      throw usageFailure(`no cluster file ${path} in ${process.cwd()}: give --config FILE or --nodes host:port,...`, '--config');
    }
    this.config = loadClusterConfig(path);
    return this.config;
  }

  /** The client ports to reach the cluster by. */
  clientNodes(): NodeAddress[] {
    if (this.flags.nodes !== undefined) return parseAddressList(this.flags.nodes, '--nodes');
    return this.clusterConfig().nodes.map((node) => ({ host: node.host, port: node.clientPort }));
  }

  /** The ops ports to read /status from: `--ops host:port,...` when given, else the cluster file's nodes. */
  opsNodes(ops: string | undefined): OpsNode[] {
    if (ops !== undefined) return parseAddressList(ops, '--ops').map((address) => ({ id: addressText(address), host: address.host, opsPort: address.port }));
    if (this.flags.nodes !== undefined && !this.configGiven) {
      throw usageFailure('status reads each node\'s ops port, which --nodes (client ports) does not give: use --config FILE or --ops host:port,...', '--nodes');
    }
    return this.clusterConfig().nodes.map((node) => ({ id: node.id, host: node.host, opsPort: node.opsPort }));
  }

  /** The token of `--token`, else of FALCON_TOKEN, else none. */
  token(): string | undefined {
    const token = this.flags.token ?? process.env['FALCON_TOKEN'];
    return token === undefined || token === '' ? undefined : token;
  }

  /** The SDK client, made on first use. */
  client(): FalconClient {
    if (this.falconClient !== undefined) return this.falconClient;
    const nodes = this.clientNodes();
    const queue = this.flags.nodes === undefined ? this.clusterConfig().queue : undefined;
    const token = this.token();
    this.falconClient = new FalconClient({
      nodes, deadlineMs: this.deadlineMs, connectTimeoutMs: Math.min(connectTimeoutMsMax, Math.max(1, this.deadlineMs)), clientName: 'falcon-cli',
      ...(token === undefined ? {} : { token }),
      ...(queue === undefined ? {} : { payloadBytesMax: queue.payloadBytesMax, frameBytesMax: queue.clientFrameBytesMax }),
    });
    return this.falconClient;
  }

  /** The payload bound the client checks (the cluster file's, else the SDK's default). */
  payloadBytesMax(): number | undefined {
    return this.flags.nodes === undefined ? this.clusterConfig().queue.payloadBytesMax : undefined;
  }

  /** Prints a command's answer: `value` as one JSON line with --json, else `text()`. */
  emit(value: object, text: () => string): void {
    const output = this.json ? JSON.stringify(value, jsonSafe) : text();
    if (output !== '') process.stdout.write(`${output}\n`);
  }

  async close(): Promise<void> {
    await this.falconClient?.close();
  }
}

/** JSON.stringify's replacer: bytes as `{ base64 }`, big integers as decimal strings (MessagePack may hold both). */
export function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return { base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

/** Reports `error` as `falcon: ...` on stderr (and as `{"error":{...}}` on stdout with --json); answers its exit code. */
export function reportFailure(error: unknown, json: boolean): number {
  const failure: CliFailure = cliFailureOf(error);
  process.stderr.write(`falcon: ${failure.message}\n`);
  if (json) {
    const body = { code: failure.code, message: failure.message, exitCode: failure.exitCode, ...(failure.detail === undefined ? {} : { detail: failure.detail }) };
    process.stdout.write(`${JSON.stringify({ error: body })}\n`);
  }
  return failure.exitCode;
}

/** A command's body: resolves when done (exit 0) or with its own exit code; throws a failure otherwise. */
export type CommandBody = (context: CliContext, args: ReadonlyArray<string | undefined>, command: Command) => Promise<number | void>;

/**
 * The commander action running `body`: builds the context from the global options, reports a
 * failure as the header says, closes the client, and sets the process's exit code.
 */
export function commandAction(body: CommandBody): (...params: unknown[]) => Promise<void> {
  return async (...params: unknown[]) => {
    const command = params[params.length - 1] as Command;
    const args = params.slice(0, -2) as Array<string | undefined>;
    const flags = command.optsWithGlobals<GlobalFlags>();
    let context: CliContext | undefined;
    try {
      context = new CliContext(flags, command.getOptionValueSourceWithGlobals('config') === 'cli');
      process.exitCode = (await body(context, args, command)) ?? 0;
    } catch (error) {
      process.exitCode = reportFailure(error, flags.json === true);
    } finally {
      await context?.close();
    }
  };
}
