/**
 * The Dispatcher without sockets, for its tests: a reply channel that keeps what it is sent, and
 * options for a small node (tiny limits, fixed defaults) that a test overrides where it matters.
 *
 * Runs on: the mocha process.
 */
import type { DispatcherOptions, ReplyChannel } from '../../src/dispatch/dispatcher.js';
import type { ClientReply } from '../../src/protocol/client.js';

export class FakeConnection implements ReplyChannel {
  readonly replies: ClientReply[] = [];
  readonly isClosing = false;
  send(reply: ClientReply): boolean {
    this.replies.push(reply);
    return true;
  }
  last(): Record<string, unknown> {
    return this.replies.at(-1) as unknown as Record<string, unknown>;
  }
}

/** Options of node `nodeId` that sends nothing anywhere, with a clock stopped at 0, unless overridden. */
export function dispatcherOptions(nodeId: string, overrides: Partial<DispatcherOptions> = {}): DispatcherOptions {
  return {
    nodeId, leaderAddressOf: (id) => ({ id, host: '127.0.0.1', clientPort: 7201 }),
    defaults: { attemptsMax: 5, leaseMs: 30_000, backoff: { kind: 'fixed', delayMs: 1_000, delayMsMax: 1_000, jitterRatio: 0 } },
    limits: {
      jobsPerQueueMax: 10, bytesPerQueueMax: 1_000, queuesMax: 10, idempotencyKeysMax: 10, dedupWindowMs: 1_000,
      completedRetentionMs: 1_000, completedPerQueueMax: 10, producersMax: 10,
    },
    leaseMsDefault: 30_000, workerTtlMs: 5_000, pullBytesMax: 1_000, entryBytesMax: 10_000, answerTimeoutMs: 1_000,
    toReplicator: () => undefined, toRegistry: () => undefined, nowMs: () => 0, random: () => 0.5, newProducerId: () => 'p-1',
    ...overrides,
  };
}
