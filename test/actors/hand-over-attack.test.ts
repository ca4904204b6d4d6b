/**
 * Attack on the graceful stop's hand-over (src/actors/replicator-role.ts `handOverLeadership`):
 * the old leader waits (bounded) until it applied the new leader's first entry. Promises: the
 * stop never waits past its bound, never waits when there is no new leader, and a node that is
 * not leader answers at once. The Replicator role runs in-process over a stand-in replica loop
 * (no sockets, no WAL), with fake timers: "at once" means before any timer fires.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { createReplicatorRole } from '../../src/actors/replicator-role.js';
import type { ActorContext, ActorRole } from '../../src/actors/actor-context.js';
import type { HandOverResult } from '../../src/protocol/control.js';
import { parseText, threeNodesYaml } from '../config/config-test-support.js';

/** What the role reads of its loop's core while it waits. */
interface FakeCore {
  role: 'leader' | 'follower' | 'candidate';
  term: number;
  leader: string | null;
  leadTransferee: string | null;
  appliedIndex: number;
  vote: string | null;
  id: string;
  /** Term of each index of the log. */
  terms: Map<number, number>;
  logTerm(index: number): number;
  status(): Record<string, unknown>;
}

function fakeCore(): FakeCore {
  return {
    role: 'leader', term: 3, leader: 'n1', leadTransferee: 'n2', appliedIndex: 10, vote: 'n1', id: 'n1',
    terms: new Map([[10, 3]]),
    logTerm(index) {
      return this.terms.get(index) ?? 0;
    },
    status() {
      return { leader: this.leader, term: this.term, role: this.role };
    },
  };
}

interface Harness {
  readonly role: ActorRole;
  readonly core: FakeCore;
  /** Runs the role's after-cycles hook, as the loop does after every turn. */
  readonly turn: () => void;
  readonly handOver: (timeoutMs: number) => Promise<HandOverResult>;
}

function harness(handOverTarget: string | null): Harness {
  const config = parseText(threeNodesYaml);
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, child: () => logger };
  const context = {
    actor: 'replicator', node: config.nodes[0], config, logger, incarnation: 1, neighbours: [],
    send: () => undefined, fail: () => expect.fail('the role failed'),
  } as unknown as ActorContext<'replicator'>;
  const role = createReplicatorRole(context);
  const core = fakeCore();
  const loop = {
    get node() {
      return core;
    },
    handOverLeadership: () => handOverTarget,
  };
  const inside = role as unknown as { loop: unknown; watchLeader: () => void };
  inside.loop = loop;
  return {
    role, core,
    turn: () => inside.watchLeader(),
    handOver: async (timeoutMs) => {
      const handler = role.requestHandlers?.handOverLeadership;
      if (handler === undefined) throw new Error('the Replicator takes no handOverLeadership request');
      return await handler({ type: 'handOverLeadership', timeoutMs });
    },
  };
}

/** The core stepped down: a follower in term 4 whose leader is `leader` (null: none known). */
function steppedDownTo(h: Harness, leader: string | null): void {
  h.core.role = 'follower';
  h.core.term = 4;
  h.core.leader = leader;
}

/** Asks for the hand-over (bounded at 5 s) and settles; `answer` is set once it is answered. */
async function handOverAsked(h: Harness): Promise<{ answer: HandOverResult | undefined }> {
  const pending: { answer: HandOverResult | undefined } = { answer: undefined };
  void h.handOver(5_000).then((value) => (pending.answer = value));
  await settle();
  return pending;
}

/** Settles pending promise callbacks without letting any (fake) timer fire. */
async function settle(): Promise<void> {
  for (let round = 0; round < 5; round += 1) await Promise.resolve();
}

describe('attack: the graceful stop\'s hand-over', () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => clock.restore());

  it('a node that is not leader answers at once', async () => {
    const h = harness(null);
    h.core.role = 'follower';
    const pending = await handOverAsked(h);
    expect(pending.answer).to.deep.include({ leading: false, handedTo: null, end: null });
  });

  it('answers once the new leader\'s first entry is applied here, before its bound', async () => {
    const h = harness('n2');
    const pending = await handOverAsked(h);
    steppedDownTo(h, 'n2');
    h.turn();
    await settle();
    expect(pending.answer, 'stepped down, but no entry of term 4 applied yet').to.equal(undefined);
    h.core.appliedIndex = 11;
    h.core.terms.set(11, 4);
    h.turn();
    await settle();
    expect(pending.answer).to.deep.include({ leading: false, handedTo: 'n2', end: 'newLeaderCommits' });
  });

  it('never waits past its bound, whatever the core does meanwhile', async () => {
    const h = harness('n2');
    const pending = await handOverAsked(h);
    steppedDownTo(h, 'n2');
    for (let step = 0; step < 49; step += 1) {
      clock.tick(100);
      h.turn();
      await settle();
    }
    expect(pending.answer).to.equal(undefined);
    clock.tick(100);
    await settle();
    expect(pending.answer, 'answered at its bound').to.not.equal(undefined);
  });

  it('a second hand-over request (a second SIGTERM) is answered within its own bound too', async () => {
    const h = harness('n2');
    const answers: HandOverResult[] = [];
    void h.handOver(5_000).then((value) => answers.push(value));
    await settle();
    clock.tick(1_000);
    void h.handOver(1_000).then((value) => answers.push(value));
    await settle();
    clock.tick(1_000);
    await settle();
    expect(answers.length, 'the second request answered within its 1 s').to.be.at.least(1);
  });

  it('stepped down and no new leader emerges (its target stopped mid-election, every other node stopping): answers at once, not at its bound', async () => {
    const h = harness('n2');
    const pending = await handOverAsked(h);
    // n2 got timeoutNow and campaigned in term 4 (this node stepped down on its vote request),
    // then stopped; n3 is stopping too and never campaigns. Nobody will lead.
    steppedDownTo(h, null);
    h.core.leadTransferee = null;
    h.turn();
    clock.tick(100);
    h.turn();
    await settle();
    expect(pending.answer, 'no new leader: nothing to wait for').to.not.equal(undefined);
  });
});
