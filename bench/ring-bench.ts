/**
 * `npm run bench:ring`: the SPSC ring against postMessage, between two threads, for 300-byte
 * records. A worker thread produces (bench/ring-bench-worker.ts); the main thread consumes and
 * measures, sleeping with Atomics.waitAsync like a socket-owning actor would.
 *
 * Throughput: the producer writes as fast as the transport takes records (the ring's own
 * backpressure; postMessage with a credit window of WINDOW_RECORDS so its queue stays bounded
 * too), for at most RECORDS_MAX records or THROUGHPUT_TIME_MS; the rate is records received
 * divided by the time from "go" to the last record. Each is run THROUGHPUT_REPEATS times; the
 * median is reported. Every record carries its sequence number and the consumer checks the order.
 *
 * Latency at low load (one-way, p50/p99/p99.9): ping-pong. The producer stamps a record (or a
 * batch of 64) with the time, sends it, and waits for the consumer's echo before the next one,
 * so the consumer is usually asleep when the record arrives: the figure includes the wake-up.
 * The clock is `process.hrtime.bigint()`, the process's monotonic clock, which every thread
 * shares. (`performance.timeOrigin + performance.now()` was tried and rejected: on Node 20 the
 * two threads' values disagree by 0.1-0.6 ms, more than the latencies measured here.)
 * The first WARMUP_ROUNDS round trips are not recorded. One more ring row has the consumer sleep
 * in the blocking waitSync (Atomics.wait, a futex) instead of waitAsync: the difference is the
 * cost of waking a thread through its event loop, which postMessage pays too.
 *
 * Output: a markdown table on stdout; `--json FILE` also writes the figures as JSON;
 * `--capacity-bytes N` changes the ring size. Bounded: about 45 s at worst.
 *
 * Runs on: the main thread of a bench process (not part of a node).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { RingReceiver } from '../src/ring/ring-channel.js';
import { RingConsumer } from '../src/ring/ring-consumer.js';
import { RingProducer } from '../src/ring/ring-producer.js';
import { createRingBuffer } from '../src/ring/spsc-ring.js';
import type { BenchMessage, BenchScenario, BenchWorkerData } from './ring-bench-protocol.js';

const RECORD_BYTES = 300;
const BATCH_RECORDS = 64;
const RECORDS_MAX = 2_000_000;
const THROUGHPUT_TIME_MS = 1_500;
const THROUGHPUT_REPEATS = 3;
const LATENCY_TIME_MS = 3_000;
const LATENCY_ROUNDS_ONE = 20_000;
const LATENCY_ROUNDS_BATCH = 3_000;
const WARMUP_ROUNDS = 1_000;
const WINDOW_RECORDS = 8_192;
const ACK_EVERY_RECORDS = 1_024;
const STAMP_OFFSET_BYTES = 8;

const clockBase = process.hrtime.bigint();
const nowNs = (): number => Number(process.hrtime.bigint() - clockBase);
const workerUrl = new URL('./ring-bench-worker.js', import.meta.url);

interface Options {
  readonly jsonPath: string | undefined;
  readonly capacityBytes: number;
}

function parseOptions(argv: readonly string[]): Options {
  let jsonPath: string | undefined;
  let capacityBytes = 1 << 20;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--json') jsonPath = argv[++index];
    else if (argument === '--capacity-bytes') capacityBytes = Number(argv[++index]);
    else throw new Error(`unknown argument ${argument}; usage: ring-bench [--json FILE] [--capacity-bytes N]`);
  }
  return { jsonPath, capacityBytes };
}

function readSequence(record: Uint8Array): number {
  return ((record[0] ?? 0) | ((record[1] ?? 0) << 8) | ((record[2] ?? 0) << 16) | ((record[3] ?? 0) << 24)) >>> 0;
}

function startWorker(scenario: BenchScenario, settings: Partial<BenchWorkerData> & Pick<BenchWorkerData, 'forward'>): Worker {
  const data: BenchWorkerData = {
    scenario,
    echo: undefined,
    recordBytes: RECORD_BYTES,
    batchRecords: 1,
    recordsMax: RECORDS_MAX,
    timeMs: THROUGHPUT_TIME_MS,
    roundsMax: 0,
    windowRecords: WINDOW_RECORDS,
    clockBase,
    ...settings,
  };
  return new Worker(workerUrl, { workerData: data });
}

/** Resolves with the worker's `{ done }` count once it exits cleanly; rejects on error or a bad exit. */
function finished(worker: Worker, onData: (message: unknown) => void = () => undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    let done: number | undefined;
    worker.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'done' in message) done = (message as { done: number }).done;
      else onData(message);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code === 0 && done !== undefined) resolve(done);
      else reject(new Error(`bench worker exited with code ${code} before reporting`));
    });
  });
}

function checkCount(what: string, sent: number, received: number, outOfOrder: number): void {
  if (sent !== received || outOfOrder !== 0) {
    throw new Error(`${what}: sent ${sent}, received ${received}, ${outOfOrder} out of order`);
  }
}

async function ringThroughput(capacityBytes: number, scenario: BenchScenario, batchRecords: number): Promise<number> {
  const forward = createRingBuffer(capacityBytes);
  const consumer = new RingConsumer(forward);
  const worker = startWorker(scenario, { forward, batchRecords });
  const exit = finished(worker);
  const copy = new Uint8Array(RECORD_BYTES);
  const zeroCopy = scenario === 'ring-zero-copy-throughput';
  let received = 0;
  let outOfOrder = 0;
  const onRecord = (record: Uint8Array): void => {
    if (!zeroCopy) copy.set(record); // the copying figure pays one copy out of the ring
    if (readSequence(zeroCopy ? record : copy) !== received) outOfOrder++;
    received++;
  };
  const startMs = performance.now();
  worker.postMessage('go');
  // Bounded by the worker: it closes the ring after RECORDS_MAX records or THROUGHPUT_TIME_MS.
  for (;;) {
    if (consumer.drain(onRecord) > 0) continue;
    if (consumer.isFinished()) break;
    await consumer.waitForData();
  }
  const elapsedMs = performance.now() - startMs;
  checkCount(scenario, await exit, received, outOfOrder);
  return (received / elapsedMs) * 1000;
}

async function channelThroughput(capacityBytes: number): Promise<number> {
  const forward = createRingBuffer(capacityBytes);
  const receiver = new RingReceiver<BenchMessage>(forward);
  const worker = startWorker('channel-throughput', { forward });
  const exit = finished(worker);
  let received = 0;
  let outOfOrder = 0;
  const startMs = performance.now();
  worker.postMessage('go');
  await receiver.run((message) => {
    if (message.seq !== received) outOfOrder++;
    received++;
  });
  const elapsedMs = performance.now() - startMs;
  checkCount('channel-throughput', await exit, received, outOfOrder);
  return (received / elapsedMs) * 1000;
}

async function postThroughput(batchRecords: number): Promise<number> {
  const worker = startWorker('post-throughput', { forward: createRingBuffer(256), batchRecords });
  let received = 0;
  let acknowledged = 0;
  let outOfOrder = 0;
  const onOne = (record: Uint8Array): void => {
    if (readSequence(record) !== received) outOfOrder++;
    received++;
  };
  const exit = finished(worker, (message) => {
    if (message instanceof Uint8Array) onOne(message);
    else for (const record of message as Uint8Array[]) onOne(record);
    if (received - acknowledged >= ACK_EVERY_RECORDS) {
      acknowledged = received;
      worker.postMessage(received);
    }
  });
  const startMs = performance.now();
  worker.postMessage('go');
  const sent = await exit;
  const elapsedMs = performance.now() - startMs;
  checkCount(`post-throughput x${batchRecords}`, sent, received, outOfOrder);
  return (received / elapsedMs) * 1000;
}

/** Records one-way latency samples (ns) after the warm-up; `sampleCount` says how many are valid. */
class LatencySamples {
  readonly values: Float64Array;
  sampleCount = 0;
  constructor(
    private readonly warmupRecords: number,
    capacity: number,
  ) {
    this.values = new Float64Array(capacity);
  }
  record(record: Uint8Array, receivedNs: number): void {
    if (readSequence(record) < this.warmupRecords || this.sampleCount >= this.values.length) return;
    const stampNs = new DataView(record.buffer, record.byteOffset, record.byteLength).getFloat64(STAMP_OFFSET_BYTES, true);
    this.values[this.sampleCount++] = receivedNs - stampNs;
  }
}

async function ringLatency(capacityBytes: number, batchRecords: number, roundsMax: number, blocking = false): Promise<LatencySamples> {
  const forward = createRingBuffer(capacityBytes);
  const echo = createRingBuffer(capacityBytes);
  const consumer = new RingConsumer(forward);
  const echoProducer = new RingProducer(echo);
  const echoRecord = new Uint8Array(4);
  const samples = new LatencySamples(WARMUP_ROUNDS * batchRecords, roundsMax * batchRecords);
  const worker = startWorker('ring-latency', { forward, echo, batchRecords, roundsMax, timeMs: LATENCY_TIME_MS });
  const exit = finished(worker);
  let received = 0;
  const onRecord = (record: Uint8Array): void => {
    samples.record(record, nowNs());
    received++;
    if (received % batchRecords === 0) echoProducer.tryWrite(echoRecord);
  };
  worker.postMessage('go');
  // Bounded by the worker: it closes the ring after roundsMax rounds or LATENCY_TIME_MS.
  for (;;) {
    if (consumer.drain(onRecord) > 0) continue;
    if (consumer.isFinished()) break;
    if (blocking) consumer.waitSync(LATENCY_TIME_MS);
    else await consumer.waitForData();
  }
  checkCount('ring-latency', await exit, received, 0);
  return samples;
}

async function postLatency(batchRecords: number, roundsMax: number): Promise<LatencySamples> {
  const samples = new LatencySamples(WARMUP_ROUNDS * batchRecords, roundsMax * batchRecords);
  const worker = startWorker('post-latency', { forward: createRingBuffer(256), batchRecords, roundsMax, timeMs: LATENCY_TIME_MS });
  let received = 0;
  const exit = finished(worker, (message) => {
    const receivedNs = nowNs();
    const records = message instanceof Uint8Array ? [message] : (message as Uint8Array[]);
    for (const record of records) samples.record(record, receivedNs);
    received += records.length;
    worker.postMessage('echo');
  });
  worker.postMessage('go');
  checkCount('post-latency', await exit, received, 0);
  return samples;
}

/** One table row; null where a figure was not measured (JSON keeps the key). */
interface Row {
  readonly transport: string;
  readonly recordsPerSecond: number | null;
  readonly megabytesPerSecond: number | null;
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly samples: number } | null;
}

function percentiles(samples: LatencySamples): NonNullable<Row['latencyUs']> {
  const sorted = samples.values.subarray(0, samples.sampleCount).sort();
  const at = (quantile: number): number => (sorted[Math.floor(quantile * (sorted.length - 1))] ?? Number.NaN) / 1000;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), samples: sorted.length };
}

async function median(run: () => Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let repeat = 0; repeat < THROUGHPUT_REPEATS; repeat++) rates.push(await run());
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? Number.NaN;
}

function row(transport: string, recordsPerSecond: number | null, latency?: LatencySamples): Row {
  return {
    transport,
    recordsPerSecond,
    megabytesPerSecond: recordsPerSecond === null ? null : (recordsPerSecond * RECORD_BYTES) / 1e6,
    latencyUs: latency === undefined ? null : percentiles(latency),
  };
}

function formatTable(rows: readonly Row[]): string {
  const number = (value: number | null | undefined, digits: number): string =>
    value === null || value === undefined ? '-' : value.toFixed(digits);
  const lines = [
    '| transport (300-byte records, 2 threads) | records/s | MB/s | p50 µs | p99 µs | p99.9 µs |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const entry of rows) {
    const rate = entry.recordsPerSecond === null ? '-' : Math.round(entry.recordsPerSecond).toLocaleString('en-US');
    const latency = entry.latencyUs;
    lines.push(
      `| ${entry.transport} | ${rate} | ${number(entry.megabytesPerSecond, 0)} | ${number(latency?.p50, 1)} | ` +
        `${number(latency?.p99, 1)} | ${number(latency?.p999, 1)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const capacityBytes = options.capacityBytes;
  const rows: Row[] = [
    row('ring, copy in and out, one record per write', await median(() => ringThroughput(capacityBytes, 'ring-throughput', 1)),
      await ringLatency(capacityBytes, 1, WARMUP_ROUNDS + LATENCY_ROUNDS_ONE)),
    row('ring, one record per write, consumer blocking in waitSync', null,
      await ringLatency(capacityBytes, 1, WARMUP_ROUNDS + LATENCY_ROUNDS_ONE, true)),
    row('ring, zero-copy reserve/commit', await median(() => ringThroughput(capacityBytes, 'ring-zero-copy-throughput', 1))),
    row(`ring, tryWriteMany batches of ${BATCH_RECORDS}`,
      await median(() => ringThroughput(capacityBytes, 'ring-throughput', BATCH_RECORDS)),
      await ringLatency(capacityBytes, BATCH_RECORDS, WARMUP_ROUNDS + LATENCY_ROUNDS_BATCH)),
    row('ring channel, msgpack objects (RingSender/RingReceiver)', await median(() => channelThroughput(capacityBytes))),
    row('postMessage, one by one', await median(() => postThroughput(1)), await postLatency(1, WARMUP_ROUNDS + LATENCY_ROUNDS_ONE)),
    row(`postMessage, batches of ${BATCH_RECORDS}`, await median(() => postThroughput(BATCH_RECORDS)),
      await postLatency(BATCH_RECORDS, WARMUP_ROUNDS + LATENCY_ROUNDS_BATCH)),
  ];
  const cpus = os.cpus();
  const machine = `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, Node ${process.version}, ring ${capacityBytes} bytes`;
  console.log(`ring bench, ${new Date().toISOString()}, ${machine}\n`);
  console.log(formatTable(rows));
  console.log(
    `\nrecords/s: median of ${THROUGHPUT_REPEATS} runs, each up to ${RECORDS_MAX} records or ${THROUGHPUT_TIME_MS} ms, ` +
      `worker producer -> main-thread consumer (waitAsync); postMessage with a ${WINDOW_RECORDS}-record credit window.\n` +
      'latency: one-way at low load (ping-pong: each record or batch waits for the echo of the previous one), ' +
      'stamped with process.hrtime (one clock for all threads), first ' +
      `${WARMUP_ROUNDS} rounds not recorded.`,
  );
  if (options.jsonPath !== undefined) {
    const report = { date: new Date().toISOString(), machine, recordBytes: RECORD_BYTES, capacityBytes, rows };
    writeFileSync(options.jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  }
}

await main();
