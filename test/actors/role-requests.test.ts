/**
 * Every role request the supervisor sends is answered, once: an actor whose role takes no such
 * request, or that receives a malformed one, answers with a refusal naming why, instead of
 * leaving the supervisor's ask to run into its timeout. Driven through the real control ring of a
 * WAL writer actor (a role that takes no requests).
 *
 * Runs on: the mocha process (the actor on a worker thread).
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterConfig, selectNode } from '../../src/config/load-config.js';
import type { ActorToControlReceived } from '../../src/runtime/control-messages.js';
import type { RoleRequest } from '../../src/protocol/control.js';
import { checkRoleResponse } from '../../src/protocol/control-validation.js';
import { isFalconError } from '../../src/errors.js';
import { startSoloActor, type SoloActor } from '../support/solo-actor.js';

describe('role requests on the control ring', function () {
  this.timeout(20_000);
  let dir = '';
  let actor: SoloActor<'walWriter'>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'falcon-role-requests-'));
    const text = 'cluster:\n  name: t\nnodes:\n  - id: n1\n    host: 127.0.0.1\n    peerPort: 1\n    clientPort: 2\n    opsPort: 3\n    dataDir: ./n1\nlogging:\n  level: fatal\n';
    const config = parseClusterConfig(text, 'test.yaml', dir);
    actor = startSoloActor('walWriter', config, selectNode(config, 'n1'));
    // Ready once its link probe is answered: answer it (as the Replicator's runtime would).
    const answerProbes = setInterval(() => actor.receive('replicator', () => undefined), 5);
    try {
      await actor.ready;
    } finally {
      clearInterval(answerProbes);
    }
  });
  after(async () => {
    await actor.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const responseTo = (seq: number) => (message: ActorToControlReceived): boolean => message.type === 'roleResponse' && message.seq === seq;

  it('a role that takes no such request answers with a refusal, not silence', async () => {
    const request: RoleRequest = { type: 'handOverLeadership', timeoutMs: 100 };
    expect(actor.sendControl({ type: 'roleRequest', seq: 1, request })).to.equal(true);
    const answer = await actor.controlMessage(responseTo(1));
    if (answer.type !== 'roleResponse') throw new Error('not a role response');
    const checked = checkRoleResponse(answer.response, 'handOverLeadership');
    if (!isFalconError(checked)) throw new Error(`answered ${JSON.stringify(checked)}`);
    expect(checked.code).to.equal('INTERNAL');
    expect(checked.message).to.contain("takes no 'handOverLeadership' requests");
  });

  it('a malformed request is refused naming the kind and the field', async () => {
    const malformed = { type: 'raftLoad', entries: 0 } as unknown as RoleRequest; // what a buggy sender might put on the ring
    expect(actor.sendControl({ type: 'roleRequest', seq: 2, request: malformed })).to.equal(true);
    const answer = await actor.controlMessage(responseTo(2));
    if (answer.type !== 'roleResponse') throw new Error('not a role response');
    const checked = checkRoleResponse(answer.response, 'raftLoad');
    if (!isFalconError(checked)) throw new Error(`answered ${JSON.stringify(checked)}`);
    expect(checked.message).to.contain('raftLoad.entries');
  });
});
