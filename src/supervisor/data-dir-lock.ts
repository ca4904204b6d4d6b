/**
 * The data-directory lock: at most one process runs on a data directory, and the operating system
 * releases the lock when that process dies (kill -9 included), so there is never a stale lock to
 * clean up by hand. No native addon: the lock is a listening Unix domain socket in Linux's
 * abstract namespace, named after the directory's real path:
 *
 *   "\0falconqueue-lock-" + first 40 hex digits of sha256(realpath(dataDir))
 *
 * Binding a name succeeds for exactly one socket in a network namespace; EADDRINUSE means another
 * process holds the lock. An abstract name has no file behind it, so the kernel frees it with the
 * holder's last descriptor. The holder answers every connection on the socket with one line of
 * JSON `{ pid, node, dataDir }`, so that a second process can say who holds the directory.
 *
 * Limits (docs/operations.md says them to operators): Linux only (elsewhere the node starts with a
 * warning and no lock); one network namespace (two containers with their own network namespaces
 * sharing a volume are not protected); one real path (a directory reached by two real paths, such
 * as two bind mounts of one volume, gets two locks).
 *
 * Invariants: the server and the sockets it accepts are unref'd: the lock never keeps the process
 * alive on its own. Waits for the holder's answer are bounded (`answerTimeoutMs`, bytes).
 *
 * Runs on: supervisor (main thread), before any actor opens the WAL.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';

/** Who holds a data directory, as the holder reports it. */
export interface DataDirLockHolder {
  readonly pid: number;
  readonly node: string;
}

export type DataDirLockOutcome =
  | { readonly kind: 'acquired'; readonly lock: DataDirLock }
  /** Another process holds it; `holder` is undefined when it did not say who (`why`). */
  | { readonly kind: 'held'; readonly realPath: string; readonly holder: DataDirLockHolder | undefined; readonly why: string | undefined }
  /** No abstract namespace on this platform: no lock was taken. */
  | { readonly kind: 'unsupported'; readonly platform: string }
  /** The lock could not be taken for another reason (`reason` names the error code). */
  | { readonly kind: 'failed'; readonly realPath: string; readonly reason: string };

export interface DataDirLockOptions {
  /** The node id the holder reports to a second process. */
  readonly node: string;
  /** How long a second process waits for the holder to say who it is. */
  readonly answerTimeoutMs?: number;
  /** The platform to act as (tests); defaults to process.platform. */
  readonly platform?: NodeJS.Platform;
}

const socketNamePrefix = '\0falconqueue-lock-';
/** 160 bits of the hash: no two real paths meet by chance. */
const hashHexDigits = 40;
const answerTimeoutMsDefault = 1_000;
/** The holder's answer is one short JSON line; more is not a FalconQueue lock. */
const answerBytesMax = 4096;
/** A holder that dies between our bind and our connect frees the name: bind again, this often. */
const bindAttemptsMax = 3;

/** A held lock; `release` frees it (dying frees it too). */
export class DataDirLock {
  readonly realPath: string;
  readonly socketName: string;
  private readonly server: Server;

  constructor(realPath: string, socketName: string, server: Server) {
    this.realPath = realPath;
    this.socketName = socketName;
    this.server = server;
  }

  release(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The abstract socket name of the lock on the directory whose real path is `realPath`. */
export function lockSocketName(realPath: string): string {
  const digest = createHash('sha256').update(realPath).digest('hex');
  return `${socketNamePrefix}${digest.slice(0, hashHexDigits)}`;
}

/** Takes the lock on `dataDir` (which must exist), or says who holds it; never throws. */
export async function acquireDataDirLock(dataDir: string, options: DataDirLockOptions): Promise<DataDirLockOutcome> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'linux') return { kind: 'unsupported', platform };
  let realPath: string;
  try {
    realPath = realpathSync(dataDir);
  } catch (error) {
    return { kind: 'failed', realPath: dataDir, reason: `its real path is unknown: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  const socketName = lockSocketName(realPath);
  const answer = `${JSON.stringify({ pid: process.pid, node: options.node, dataDir: realPath })}\n`;
  for (let attempt = 1; ; attempt += 1) {
    const bound = await bind(socketName, answer);
    if (bound.kind === 'failed') return { kind: 'failed', realPath, reason: bound.reason };
    if (bound.kind === 'bound') return { kind: 'acquired', lock: new DataDirLock(realPath, socketName, bound.server) };
    const asked = await askHolder(socketName, options.answerTimeoutMs ?? answerTimeoutMsDefault);
    if (asked.gone && attempt < bindAttemptsMax) continue;
    return { kind: 'held', realPath, holder: asked.holder, why: asked.why };
  }
}

type BindOutcome = { readonly kind: 'bound'; readonly server: Server } | { readonly kind: 'busy' } | { readonly kind: 'failed'; readonly reason: string };

/** Listens on the abstract name: bound, busy (EADDRINUSE), or failed with the error code. */
function bind(socketName: string, answer: string): Promise<BindOutcome> {
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    socket.unref();
    socket.on('error', () => socket.destroy());
    socket.end(answer);
  });
  return new Promise((resolve) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'EADDRINUSE' ? { kind: 'busy' } : { kind: 'failed', reason: error.code ?? error.message });
    });
    server.listen(socketName, () => {
      server.removeAllListeners('error');
      // A listener error after the bind (none is expected) must not crash the node.
      server.on('error', () => undefined);
      server.unref();
      resolve({ kind: 'bound', server });
    });
  });
}

interface HolderAnswer {
  readonly holder: DataDirLockHolder | undefined;
  readonly why: string | undefined;
  /** The name was free when we connected: the holder died in between. */
  readonly gone: boolean;
}

/** Connects to the holder and reads its one-line answer, within `timeoutMs` and `answerBytesMax`. */
function askHolder(socketName: string, timeoutMs: number): Promise<HolderAnswer> {
  return new Promise((resolve) => {
    const socket = connect(socketName);
    let received = '';
    let finished = false;
    const finish = (answer: HolderAnswer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ holder: undefined, why: `it did not say who it is within ${timeoutMs} ms`, gone: false }), timeoutMs);
    timer.unref();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > answerBytesMax) finish({ holder: undefined, why: 'its answer is not a FalconQueue lock holder\'s', gone: false });
    });
    socket.on('end', () => finish(parseAnswer(received)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      finish({ holder: undefined, why: `asking it who it is failed: ${error.code ?? error.message}`, gone: error.code === 'ECONNREFUSED' || error.code === 'ENOENT' });
    });
  });
}

function parseAnswer(received: string): HolderAnswer {
  try {
    const value = JSON.parse(received) as { pid?: unknown; node?: unknown };
    if (typeof value.pid === 'number' && Number.isSafeInteger(value.pid) && typeof value.node === 'string') {
      return { holder: { pid: value.pid, node: value.node }, why: undefined, gone: false };
    }
  } catch {
    // Falls through: not JSON.
  }
  return { holder: undefined, why: 'its answer is not a FalconQueue lock holder\'s', gone: false };
}

/** One line for the log: which directory, who holds it, what to do. */
export function describeHeldLock(dataDir: string, outcome: Extract<DataDirLockOutcome, { kind: 'held' }>): string {
  const where = outcome.realPath === dataDir ? dataDir : `${dataDir} (real path ${outcome.realPath})`;
  const who = outcome.holder === undefined
    ? `another process (${outcome.why ?? 'it did not say who it is'})`
    : `another process: pid ${outcome.holder.pid}, node ${outcome.holder.node}`;
  return `the data directory ${where} is in use by ${who}; two processes on one data directory would corrupt its log: stop the other process, or give this node its own dataDir`;
}
