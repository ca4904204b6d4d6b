/**
 * Attack on "every call settles exactly once" and on `sent: false` at client.close(): close()
 * closes the batcher first, then drains the client's workers (up to waitMs + attemptTimeoutMs for
 * a long poll in flight, up to drainTimeoutMs for running jobs), and only then the connection. A
 * batch in flight meanwhile goes on; when its answer sends calls back to the line (a field
 * refusal of one job with nothing in doubt: the others leave under a new sequence), the line is no
 * longer pumped nor rejected.
 *
 * One scripted node with a real state machine; its worker's long poll is held.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { FalconClient, type EnqueuedJob } from '../../src/client/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitUntil } from '../support/wait-until.js';
import { outcomeOf, scriptedNode, SharedLog, type Reply } from './scripted-cluster.js';

const queue = 'attack';

describe('attack: client.close() while a batch is answered with a field refusal (scripted node)', function () {
  this.timeout(30_000);

  it('settles every enqueue call, and the calls sent back to the line say sent: false and add nothing', async () => {
    const log = new SharedLog();
    let held: { reply: (reply: Reply) => void; producerId: string; request: Record<string, unknown> } | undefined;
    const node = await scriptedNode('A', (request, connection) => {
      switch (request.type) {
        case 'register': return { ttlMs: 30_000 };
        case 'heartbeat': return { registered: true };
        case 'pull': return undefined; // a long poll held
        case 'unregister': return { jobs: [] };
        case 'enqueue':
          if (held === undefined) {
            held = { reply: connection.reply, producerId: connection.producerId, request };
            return undefined;
          }
          return log.enqueue(request, connection.producerId, 1024);
        default: return { error: { code: 'INVALID_ARGUMENT', message: 'not scripted' } };
      }
    });
    const client = new FalconClient({ nodes: [node.address], deadlineMs: 8_000 });
    const worker = client.worker('jobs', async () => undefined, { waitMs: 2_000 });
    await worker.ready;
    const big = outcomeOf(client.enqueue(queue, { marker: 'big', pad: 'x'.repeat(4096) }));
    const small = outcomeOf(client.enqueue(queue, { marker: 'small' }));
    await waitUntil(() => held !== undefined, 'the node holds the enqueue request', 10_000, 5);
    const closing = client.close();
    // The node refuses the first job's field (as a node with a lower payloadBytesMax does): nothing was applied.
    const refused = held as { reply: (reply: Reply) => void } | undefined;
    if (refused === undefined) throw new Error('no enqueue held');
    refused.reply({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'jobs[0].payload holds 4115 bytes, above queue.payloadBytesMax (1024 bytes)', detail: { field: 'jobs[0].payload', payloadBytes: 4115, payloadBytesMax: 1024 } } });
    // The bound on a call that never settles (not a wait for an event): unref'd, it keeps no process alive.
    const timeout = sleep(10_000, undefined, { ref: false }).then(() => 'never settled' as const);
    const [bigOutcome, smallOutcome] = await Promise.all([Promise.race([big, timeout]), Promise.race([small, timeout])]);
    await closing;
    await node.kill();
    expect(String(bigOutcome)).to.match(/PayloadTooLarge/);
    expect(smallOutcome, 'the small call').to.not.equal('never settled');
    const settled = smallOutcome as EnqueuedJob | Error;
    if (settled instanceof Error && (settled as { sent?: boolean }).sent === false) expect(log.jobsByMarker(queue).has('small')).to.equal(false);
  });
});
