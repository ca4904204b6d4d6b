/**
 * Free loopback ports for tests: never the ports of cluster.yaml.
 *
 * A port that the kernel handed out with `listen(0)` and that was released again lies in the
 * ephemeral range, from which the kernel also picks the local port of every outgoing
 * connection. Between the release and a node's own `listen`, a node dialling a peer could get
 * that very port as its local end, and the node meant to listen on it would fail with
 * EADDRINUSE. So the ports come from below the ephemeral range, where the kernel never picks,
 * each one checked free by binding it, and none handed out twice by this process.
 *
 * Runs on: test process.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** The lowest port handed out: well above cluster.yaml's and other well-known services' ports. */
const PORT_LOW = 20_000;
/** Ports that need fewer candidates than this fall back to the kernel's choice. */
const RANGE_MIN = 2_000;
/** Tries at random candidates before giving up on one port. */
const TRIES_MAX = 200;

const handedOut = new Set<number>();

/** Asks for `count` distinct free ports on 127.0.0.1 (held together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const range = portRange();
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index++) {
      servers.push(range === null ? await listenOn(0) : await listenOnFree(range));
    }
    const ports = servers.map(portOf);
    for (const port of ports) remember(port, range);
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** The ports below the kernel's ephemeral range, or null when that range leaves too few. */
function portRange(): { low: number; high: number } | null {
  let ephemeralLow = 32_768;
  try {
    const fields = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    ephemeralLow = Number(fields[0]);
  } catch {
    // Not Linux: keep the IANA default.
  }
  const high = ephemeralLow - 1;
  if (!Number.isInteger(high) || high - PORT_LOW < RANGE_MIN) return null;
  return { low: PORT_LOW, high };
}

/** Remembers a port handed out; the oldest are forgotten once half the range was handed out. */
function remember(port: number, range: { low: number; high: number } | null): void {
  handedOut.add(port);
  const kept = range === null ? 0 : Math.floor((range.high - range.low) / 2);
  for (const oldest of handedOut) {
    if (handedOut.size <= kept) break;
    handedOut.delete(oldest);
  }
}

async function listenOnFree(range: { low: number; high: number }): Promise<Server> {
  for (let attempt = 0; attempt < TRIES_MAX; attempt++) {
    const port = range.low + Math.floor(Math.random() * (range.high - range.low + 1));
    if (handedOut.has(port)) continue;
    try {
      return await listenOn(port);
    } catch {
      // Taken: try another.
    }
  }
  throw new Error(`no free port found in ${range.low}-${range.high} after ${TRIES_MAX} tries`);
}

function listenOn(port: number): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}
