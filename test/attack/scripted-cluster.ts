/**
 * Scripted TCP nodes sharing one real queue state machine (the log every node would have), for
 * attacks on the SDK's "no retry creates a second job" and "`sent: false` did nothing" promises.
 * Each node judges a request as a test scripts it (answer, hold, cut), and the shared log applies
 * enqueues with the producer stamp a real node would attach (the connection's hello producer),
 * the job's idempotency key, and limits a test may narrow (producersMax, idempotencyKeysMax).
 *
 * Runs on: the mocha process.
 */
import { decode, encode } from '../../src/codec/msgpack.js';
import { isFalconError } from '../../src/errors.js';
import type { JobSpec, QueueLimits } from '../../src/queue/commands.js';
import type { EnqueueResult } from '../../src/queue/results.js';
import { enqueueCommand, QueueDriver, testLimits } from '../queue/queue-driver.js';
import { startScriptedNode, type Reply, type Request, type ScriptedNode } from '../support/scripted-node.js';

export type { Reply, Request, ScriptedNode };
type WireJob = { payload: Uint8Array; idempotencyKey?: string };

/** What a node does with one request: answer it, cut every connection and stop ('die'), or hold it (undefined). */
export type Script = (request: Request, connection: { producerId: string; reply: (reply: Reply) => void }) => Reply | 'die' | undefined;

export class SharedLog {
  readonly driver = new QueueDriver();
  limits: QueueLimits;

  constructor(limits: Partial<QueueLimits> = {}) {
    this.limits = { ...testLimits, ...limits };
  }

  /** A node's handling of an enqueue: its intake's payload check with its own bound, then the state machine. */
  enqueue(request: Request, producerId: string, payloadBytesMax = 1024 * 1024): Reply {
    const jobs = request['jobs'] as WireJob[];
    const tooLarge = jobs.findIndex((job) => job.payload.byteLength > payloadBytesMax);
    if (tooLarge >= 0) {
      const field = `jobs[${tooLarge}].payload`;
      const payloadBytes = jobs[tooLarge]?.payload.byteLength ?? 0;
      return { error: { code: 'PAYLOAD_TOO_LARGE', message: `${field} holds ${payloadBytes} bytes, above queue.payloadBytesMax (${payloadBytesMax} bytes)`, detail: { field, payloadBytes, payloadBytesMax } } };
    }
    const sequence = request['sequence'];
    const producer = typeof sequence === 'number' ? { id: producerId, sequence, ...(request['retry'] === true ? { retry: true as const } : {}) } : undefined;
    const specs: JobSpec[] = jobs.map((job) => ({ payload: job.payload, ...(job.idempotencyKey === undefined ? {} : { key: job.idempotencyKey }) }));
    const result = this.driver.one(enqueueCommand(request['queue'] as string, specs, { limits: this.limits, ...(producer === undefined ? {} : { producer }) }));
    if (isFalconError(result)) return { error: { code: result.code, message: result.message, ...(result.detail === undefined ? {} : { detail: result.detail }) } };
    return { jobs: (result as EnqueueResult).jobs };
  }

  /** Other producers' first enqueues (one job each, optionally keyed), enough to push sessions out. */
  otherProducers(count: number, queue = 'other', keyed = false): void {
    for (let at = 0; at < count; at += 1) {
      const tag = `other-${this.driver.nextIndex}-${at}`;
      const job = { payload: encode({ marker: tag }), ...(keyed ? { idempotencyKey: tag } : {}) };
      this.enqueue({ id: 1, type: 'enqueue', queue, jobs: [job], sequence: 0 }, tag);
    }
  }

  /** Every job of `queue` by the marker its payload carries. */
  jobsByMarker(queue: string): Map<string, number[]> {
    const byMarker = new Map<string, number[]>();
    const { machine } = this.driver;
    for (const state of ['ready', 'delayed'] as const) {
      for (const { id } of machine.listJobs(queue, state, 0, 10_000).jobs) {
        const marker = (decode(Buffer.from(machine.getJob(id)?.payload ?? [])) as { marker: string }).marker;
        byMarker.set(marker, [...(byMarker.get(marker) ?? []), id]);
      }
    }
    return byMarker;
  }

  get producersEvicted(): number {
    return this.driver.machine.counters.producersEvicted;
  }
}

let producers = 0;

/** A node that answers hello itself (producer ids it hands out, or the one the client brings) and
 *  hands every other request to `script`, with the producer of the connection's hello. */
export async function scriptedNode(name: string, script: Script): Promise<ScriptedNode> {
  const producerIdByConnection = new Map<number, string>();
  return startScriptedNode((request, reply) => {
    if (request.type === 'hello') {
      producers += 1;
      const producerId = typeof request['producerId'] === 'string' ? request['producerId'] : `p-${name}-${producers}`;
      producerIdByConnection.set(reply.connection, producerId);
      return { protocol: 1, node: name, leader: name, producerId, access: 'open' };
    }
    return script(request, { producerId: producerIdByConnection.get(reply.connection) ?? '', reply: reply.answer });
  });
}

/** Settles to the value or the error, never rejects. */
export function outcomeOf<T>(promise: Promise<T>): Promise<T | Error> {
  return promise.then((value) => value, (error: Error) => error);
}

