/**
 * What an actor thread is given at spawn and whom it talks to (src/runtime/): a thread started
 * without its worker data, under an unknown name, or without its liveness buffer and control
 * rings refuses at once with a message naming what is missing; links are symmetric.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { checkActorWorkerData } from '../../src/runtime/actor-worker-data.js';
import { actorLinks, actorNames, neighboursOf, ringName } from '../../src/runtime/topology.js';

describe('an actor thread checks what it was given at spawn', () => {
  const control = { inbound: new SharedArrayBuffer(8), outbound: new SharedArrayBuffer(8) };
  const liveness = new SharedArrayBuffer(4 * actorNames.length);

  it('refuses to run without worker data, under an unknown name, or without liveness and control rings', () => {
    expect(() => checkActorWorkerData(undefined)).to.throw('without workerData');
    expect(() => checkActorWorkerData({ actor: 'scheduler', control, liveness })).to.throw('unknown actor name: scheduler');
    expect(() => checkActorWorkerData({ actor: 'walWriter', control })).to.throw('actor walWriter started without its liveness buffer or control rings');
    expect(() => checkActorWorkerData({ actor: 'walWriter', liveness })).to.throw('without its liveness buffer or control rings');
  });

  it('accepts the data the supervisor builds', () => {
    const data = { actor: 'replicator', incarnation: 1, control, liveness, livenessSlot: 3, links: {} };
    expect(checkActorWorkerData(data)).to.equal(data);
  });
});

describe('the actors\' links', () => {
  it('join two different actors, each once, and every actor sees the other end as its neighbour', () => {
    const seen = new Set<string>();
    for (const [a, b] of actorLinks) {
      expect(a).not.to.equal(b);
      const key = [a, b].sort().join('+');
      expect(seen.has(key), `${key} is listed twice`).to.equal(false);
      seen.add(key);
      expect(neighboursOf(a)).to.include(b);
      expect(neighboursOf(b)).to.include(a);
    }
    for (const actor of actorNames) expect(neighboursOf(actor).length, `${actor} has a neighbour`).to.be.greaterThan(0);
    expect(neighboursOf('walWriter')).to.deep.equal(['replicator']);
    expect(ringName('replicator', 'walWriter')).to.equal('replicator->walWriter');
  });
});
