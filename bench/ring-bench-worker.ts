/**
 * The producing side of bench/ring-bench.ts: one scenario per worker, chosen by workerData.
 *
 * Every record is RECORD_BYTES long and starts with its sequence number (uint32 LE at byte 0);
 * latency scenarios also carry the send time at byte 8 (float64 LE, nanoseconds on the process's
 * monotonic clock, `process.hrtime.bigint() - clockBase`). That clock is one clock for every
 * thread of the process, so a stamp taken here compares with a reading on the main thread.
 *
 * Runs on: a worker thread started by bench/ring-bench.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer } from '../src/ring/ring-consumer.js';
import { RingProducer } from '../src/ring/ring-producer.js';
import { RingSender } from '../src/ring/ring-channel.js';
import { benchPayloadBytes, type BenchMessage, type BenchWorkerData } from './ring-bench-protocol.js';

const RECORD_BYTES_OFFSET_STAMP = 8;

const data = workerData as BenchWorkerData;
const port = parentPort;
if (port === null) throw new Error('ring-bench-worker must run as a worker thread');

/** The next message from the main thread; the listener also keeps this worker alive while it
 *  sleeps in Atomics.waitAsync (which alone would not). */
const inbox: unknown[] = [];
let inboxWaiter: ((message: unknown) => void) | undefined;
port.on('message', (message: unknown) => {
  if (inboxWaiter === undefined) {
    inbox.push(message);
    return;
  }
  const waiter = inboxWaiter;
  inboxWaiter = undefined;
  waiter(message);
});
function nextMessage(): Promise<unknown> {
  const queued = inbox.shift();
  if (queued !== undefined) return Promise.resolve(queued);
  return new Promise((resolve) => (inboxWaiter = resolve));
}

function nowNs(): number {
  return Number(process.hrtime.bigint() - data.clockBase);
}

function makeRecord(): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(data.recordBytes).fill(0x5a);
  return { bytes, view: new DataView(bytes.buffer) };
}

/** Produces as fast as the transport takes it, until recordsMax or timeMs. Returns records sent. */
async function produceRing(zeroCopy: boolean, batchRecords: number): Promise<number> {
  const producer = new RingProducer(data.forward);
  const batch = Array.from({ length: batchRecords }, makeRecord);
  const records = batch.map((record) => record.bytes);
  const deadlineMs = performance.now() + data.timeMs;
  let sent = 0;
  while (sent < data.recordsMax) {
    if ((sent & 1023) === 0 && performance.now() > deadlineMs) break;
    let written = 0;
    if (zeroCopy) {
      const view = producer.reserve(data.recordBytes);
      if (view !== null) {
        view[0] = sent & 0xff;
        view[1] = (sent >>> 8) & 0xff;
        view[2] = (sent >>> 16) & 0xff;
        view[3] = sent >>> 24;
        producer.commit();
        written = 1;
      }
    } else if (batchRecords === 1) {
      const record = batch[0];
      if (record === undefined) throw new Error('no record');
      record.view.setUint32(0, sent, true);
      written = producer.tryWrite(record.bytes) ? 1 : 0;
    } else {
      for (let index = 0; index < batchRecords; index++) batch[index]?.view.setUint32(0, sent + index, true);
      written = producer.tryWriteMany(records);
    }
    if (written === 0) {
      await producer.waitForSpace(data.recordBytes, data.timeMs);
      continue;
    }
    sent += written;
  }
  producer.close();
  return sent;
}

/** Typed messages through RingSender (msgpack encode + copy into the ring). */
async function produceChannel(): Promise<number> {
  const sender = new RingSender<BenchMessage>(data.forward);
  const payload = new Uint8Array(benchPayloadBytes(data.recordBytes)).fill(0x5a);
  const deadlineMs = performance.now() + data.timeMs;
  let sent = 0;
  while (sent < data.recordsMax) {
    if ((sent & 1023) === 0 && performance.now() > deadlineMs) break;
    const message: BenchMessage = { seq: sent, payload };
    if (sender.send(message)) {
      sent++;
      continue;
    }
    await sender.producer.waitForSpace(data.recordBytes, data.timeMs);
  }
  sender.close();
  return sent;
}

/** postMessage with a credit window, so that the receiving queue stays bounded like the ring. */
async function producePost(batchRecords: number): Promise<number> {
  const deadlineMs = performance.now() + data.timeMs;
  let sent = 0;
  let acknowledged = 0;
  while (sent < data.recordsMax && performance.now() < deadlineMs) {
    if (sent - acknowledged >= data.windowRecords) {
      acknowledged = (await nextMessage()) as number;
      continue;
    }
    if (batchRecords === 1) {
      const record = makeRecord();
      record.view.setUint32(0, sent, true);
      port?.postMessage(record.bytes);
    } else {
      const batch: Uint8Array[] = [];
      for (let index = 0; index < batchRecords; index++) {
        const record = makeRecord();
        record.view.setUint32(0, sent + index, true);
        batch.push(record.bytes);
      }
      port?.postMessage(batch);
    }
    sent += batchRecords;
  }
  return sent;
}

/** Ping-pong at low load over rings: send one record (or batch), sleep until the echo comes back. */
async function pingRing(batchRecords: number): Promise<number> {
  const producer = new RingProducer(data.forward);
  const echoes = new RingConsumer(data.echo ?? data.forward);
  const batch = Array.from({ length: batchRecords }, makeRecord);
  const records = batch.map((record) => record.bytes);
  const deadlineMs = performance.now() + data.timeMs;
  let rounds = 0;
  const countEcho = (): void => undefined;
  for (; rounds < data.roundsMax && performance.now() < deadlineMs; rounds++) {
    const stampNs = nowNs();
    for (let index = 0; index < batchRecords; index++) {
      batch[index]?.view.setUint32(0, rounds * batchRecords + index, true);
      batch[index]?.view.setFloat64(RECORD_BYTES_OFFSET_STAMP, stampNs, true);
    }
    const written = batchRecords === 1 ? (producer.tryWrite(records[0] ?? new Uint8Array()) ? 1 : 0) : producer.tryWriteMany(records);
    if (written !== batchRecords) throw new Error(`ring full at low load: wrote ${written} of ${batchRecords}`);
    while (echoes.drain(countEcho) === 0) await echoes.waitForData();
  }
  producer.close();
  return rounds * batchRecords;
}

/** Ping-pong at low load over postMessage. */
async function pingPost(batchRecords: number): Promise<number> {
  const deadlineMs = performance.now() + data.timeMs;
  let rounds = 0;
  for (; rounds < data.roundsMax && performance.now() < deadlineMs; rounds++) {
    const stampNs = nowNs();
    const batch: Uint8Array[] = [];
    for (let index = 0; index < batchRecords; index++) {
      const record = makeRecord();
      record.view.setUint32(0, rounds * batchRecords + index, true);
      record.view.setFloat64(RECORD_BYTES_OFFSET_STAMP, stampNs, true);
      batch.push(record.bytes);
    }
    port?.postMessage(batchRecords === 1 ? batch[0] : batch);
    await nextMessage();
  }
  return rounds * batchRecords;
}

async function main(): Promise<void> {
  await nextMessage(); // 'go': the main thread is ready to receive
  const batchRecords = data.batchRecords;
  let sent: number;
  switch (data.scenario) {
    case 'ring-throughput':
      sent = await produceRing(false, batchRecords);
      break;
    case 'ring-zero-copy-throughput':
      sent = await produceRing(true, 1);
      break;
    case 'channel-throughput':
      sent = await produceChannel();
      break;
    case 'post-throughput':
      sent = await producePost(batchRecords);
      break;
    case 'ring-latency':
      sent = await pingRing(batchRecords);
      break;
    case 'post-latency':
      sent = await pingPost(batchRecords);
      break;
  }
  port?.postMessage({ done: sent });
  port?.close();
}

await main();
