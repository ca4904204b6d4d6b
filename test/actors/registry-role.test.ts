/**
 * The Registry role's answers to beats: a worker whose registration is applied but whose new list
 * of workers has not reached the Registry yet (it comes on another ring than the beat) is answered
 * registered once the list comes, never refused in the meantime; a worker no list names is refused
 * after one expiry scan; a node that does not lead refuses at once.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { createRegistryRole } from '../../src/actors/registry-role.js';
import type { ActorContext, ActorRole } from '../../src/actors/actor-context.js';
import type { LinkMessage } from '../../src/protocol/link-message.js';
import { parseText, threeNodesYaml } from '../config/config-test-support.js';

interface BeatAnswer {
  readonly type: string;
  readonly request: number;
  readonly registered: boolean;
}

function harness(): { role: ActorRole; answers: BeatAnswer[] } {
  const config = parseText(threeNodesYaml);
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => logger };
  const answers: BeatAnswer[] = [];
  const context = {
    actor: 'registry', node: config.nodes[0], config, logger, incarnation: 1, neighbours: [],
    send: (to: string, message: BeatAnswer) => { if (to === 'dispatcher') answers.push(message); },
    fail: () => expect.fail('the role failed'),
  } as unknown as ActorContext<'registry'>;
  return { role: createRegistryRole(context), answers };
}

const workers = (workerIds: string[], leading = true): LinkMessage => ({ type: 'workers', leading, term: 3, workerIds }) as unknown as LinkMessage;
const beat = (request: number, workerId: string): LinkMessage => ({ type: 'beat', request, workerId, load: 0 }) as unknown as LinkMessage;

describe('Registry role: beats', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => clock.restore());

  it('answers a beat that comes before the list naming its newly registered worker, once the list comes: registered', async () => {
    const { role, answers } = harness();
    await role.start();
    role.onMessage('replicator', workers(['w0']));
    role.onMessage('dispatcher', beat(1, 'w1'));
    expect(answers, 'not refused while its list may be on its way').to.deep.equal([]);
    role.onMessage('replicator', workers(['w0', 'w1']));
    expect(answers).to.deep.equal([{ type: 'beatAnswer', request: 1, registered: true }]);
    role.onMessage('dispatcher', beat(2, 'w0'));
    expect(answers[1]).to.deep.equal({ type: 'beatAnswer', request: 2, registered: true });
    await role.stop();
  });

  it('refuses a worker no list names after one expiry scan, and at once on a node that does not lead', async () => {
    const { role, answers } = harness();
    await role.start();
    role.onMessage('replicator', workers([]));
    role.onMessage('dispatcher', beat(1, 'gone'));
    clock.tick(99);
    expect(answers, 'waits a whole scan').to.deep.equal([]);
    clock.tick(1);
    expect(answers).to.deep.equal([{ type: 'beatAnswer', request: 1, registered: false }]);
    role.onMessage('replicator', workers([], false));
    role.onMessage('dispatcher', beat(2, 'gone'));
    expect(answers[1]).to.deep.equal({ type: 'beatAnswer', request: 2, registered: false });
    await role.stop();
  });

  it('answers every waiting beat when it stops', async () => {
    const { role, answers } = harness();
    await role.start();
    role.onMessage('replicator', workers([]));
    role.onMessage('dispatcher', beat(7, 'w9'));
    await role.stop();
    expect(answers).to.deep.equal([{ type: 'beatAnswer', request: 7, registered: false }]);
  });
});
