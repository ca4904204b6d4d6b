/**
 * A TCP proxy for one link between two endpoints: it listens on a loopback port, and every
 * connection it accepts is relayed to `target` through two FaultPipes, one per direction:
 * `forward` (dialer -> target) and `backward` (target -> dialer), each governed by its own
 * LinkFaults, switchable at run time. Both directions of every connection see the current settings
 * at once.
 *
 * A connection ends as a whole: when either socket closes or fails, or a pipe's armed cut fires,
 * both sockets are destroyed (a half-close, `end`, is passed on once what the pipe holds has left).
 * When the target refuses the connection, the dialer's socket is destroyed: as seen from the
 * dialer, a down target looks the same through the proxy as without it.
 *
 * Memory: each pipe holds at most `pipeBufferedBytesMax` plus one socket read (fault-pipe.ts);
 * `bufferedBytesPeak` records the most the proxy held at once, for tests to bound.
 *
 * Runs on: the process that hosts the fault network (a test or the drill).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { assert } from '../errors.js';
import { FaultPipe } from './fault-pipe.js';
import type { LinkFaults } from './link-faults.js';

/** Why: a few peer batches' worth; a slow or blackholed link holds no more than this per direction. */
export const pipeBufferedBytesMaxDefault = 256 * 1024;

export interface FaultProxyOptions {
  /** For messages, e.g. `n1<->n2`. */
  readonly name: string;
  readonly target: { readonly host: string; readonly port: number };
  /** Dialer -> target. */
  readonly forward: LinkFaults;
  /** Target -> dialer. */
  readonly backward: LinkFaults;
  readonly listenHost?: string;
  /** 0 (the default) lets the kernel choose a free port. */
  readonly listenPort?: number;
  readonly pipeBufferedBytesMax?: number;
}

interface ProxiedConnection {
  readonly dialer: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly FaultPipe[];
}

export class FaultProxy {
  readonly name: string;
  readonly forward: LinkFaults;
  readonly backward: LinkFaults;
  private readonly options: FaultProxyOptions;
  private readonly connections = new Set<ProxiedConnection>();
  private server: Server | undefined;
  private listenPort: number | undefined;
  private peak = 0;
  private accepted = 0;

  constructor(options: FaultProxyOptions) {
    const bufferedBytesMax = options.pipeBufferedBytesMax ?? pipeBufferedBytesMaxDefault;
    assert(Number.isSafeInteger(bufferedBytesMax) && bufferedBytesMax > 0, `${options.name}: pipeBufferedBytesMax must be a positive integer`);
    this.options = options;
    this.name = options.name;
    this.forward = options.forward;
    this.backward = options.backward;
  }

  /** Listens; resolves with the port (rejects with the listen error). */
  async start(): Promise<number> {
    assert(this.server === undefined, `${this.name}: started twice`);
    // Half-open: a dialer's `end` reaches the target after what the pipe holds, not before it.
    const server = createServer({ allowHalfOpen: true }, (dialer) => this.onConnection(dialer));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listenPort ?? 0, this.options.listenHost ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    assert(address !== null && typeof address === 'object', `${this.name}: the listener has no port`);
    this.listenPort = address.port;
    return address.port;
  }

  get port(): number {
    assert(this.listenPort !== undefined, `${this.name}: not started`);
    return this.listenPort;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Connections accepted since start (a dialer's reconnects show here). */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  /** What every pipe holds now (held chunks plus unflushed socket writes). */
  get bufferedBytes(): number {
    let total = 0;
    for (const connection of this.connections) for (const pipe of connection.pipes) total += pipe.bufferedBytes;
    return total;
  }

  /** The most `bufferedBytes` has been since start. */
  get bufferedBytesPeak(): number {
    return this.peak;
  }

  /** Destroys every open connection now (mid-frame, wherever the bytes are); returns how many. */
  cutAll(): number {
    const count = this.connections.size;
    for (const connection of [...this.connections]) this.end(connection);
    return count;
  }

  /** Cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.cutAll();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(dialer: Socket): void {
    this.accepted += 1;
    dialer.setNoDelay(true);
    const upstream = connect({ host: this.options.target.host, port: this.options.target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    const pipes: FaultPipe[] = [];
    const connection: ProxiedConnection = { dialer, upstream, pipes };
    const bufferedBytesMax = this.options.pipeBufferedBytesMax ?? pipeBufferedBytesMaxDefault;
    const common = { bufferedBytesMax, onCut: () => this.end(connection), onBuffered: () => this.notePeak() };
    pipes.push(
      new FaultPipe({ ...common, source: dialer, destination: upstream, faults: this.forward }),
      new FaultPipe({ ...common, source: upstream, destination: dialer, faults: this.backward }),
    );
    this.connections.add(connection);
    const end = (): void => this.end(connection);
    // Errors are the ends of connections here (refused, reset), not failures of the proxy.
    dialer.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }

  private end(connection: ProxiedConnection): void {
    if (!this.connections.delete(connection)) return;
    for (const pipe of connection.pipes) pipe.close();
    connection.dialer.destroy();
    connection.upstream.destroy();
  }

  private notePeak(): void {
    const now = this.bufferedBytes;
    if (now > this.peak) this.peak = now;
  }
}
