/**
 * The far end of the channel tests (ring-channel.test.ts): receives messages on one ring with
 * RingReceiver.run (Atomics.waitAsync) and sends each one back unchanged on the other ring with
 * RingSender.sendAsync, then closes its ring when the inbound ring is closed.
 *
 * Runs on: a worker thread started by ring-channel.test.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingReceiver, RingSender } from '../../src/ring/ring-channel.js';

export interface EchoWorkerData {
  readonly inbound: SharedArrayBuffer;
  readonly outbound: SharedArrayBuffer;
}

const ECHO_TIMEOUT_MS = 10_000;

const data = workerData as EchoWorkerData;
const port = parentPort;
if (port === null) throw new Error('ring-channel-echo-worker must run as a worker thread');
// Keeps this worker alive while run() sleeps in Atomics.waitAsync, which alone would not.
port.on('message', () => undefined);

const receiver = new RingReceiver<unknown>(data.inbound);
const sender = new RingSender<unknown>(data.outbound);
/** Echoes that found the ring full, in order; bounded by what the test sends. */
const backlog: unknown[] = [];
let flushing: Promise<void> | undefined;
let failure: string | undefined;

async function flushBacklog(): Promise<void> {
  // Bounded by the backlog; each turn waits (bounded) for the test to drain the echo ring.
  while (backlog.length > 0) {
    if (!(await sender.sendAsync(backlog[0], ECHO_TIMEOUT_MS))) {
      failure ??= 'echo ring stayed full';
      backlog.length = 0;
    }
    backlog.shift();
  }
  flushing = undefined;
}

await receiver.run((message) => {
  if (backlog.length === 0 && sender.send(message)) return;
  backlog.push(message);
  flushing ??= flushBacklog();
});
await flushing;
sender.close();
port.postMessage({ type: failure === undefined ? 'done' : 'failed', message: failure });
port.close();
