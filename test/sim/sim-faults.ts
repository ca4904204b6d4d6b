/**
 * The fault schedule of the fault phase: at random intervals one action among crash (often of the
 * leader) with a later restart, pause (SIGSTOP-like), partition (halves, one node isolated,
 * one-way, single links) with a later heal, a message storm, a slow disk, a spurious connection
 * close, a leadership transfer, and damage at rest to a stopped node's disk (a record whose
 * checksum no longer verifies, or a wiped disk; sim-damage.ts, at most a minority barred at once). Beside
 * the schedule, two partitions aimed at an overwrite behind a pending snapshot (issue 7, point 4)
 * fire at the start of a snapshot's stream or install. A crash also closes the crashed node's connections: the
 * peers that can still see it get `peerDisconnected` shortly after (the fast-failover input).
 *
 * Invariant: no fault is scheduled after the fault phase; pending restarts, heals and resumes
 * may still fire, and the liveness phase undoes whatever remains.
 *
 * Runs on: the simulator.
 */
import { corruptRecord, mayDamage, wipeDisk } from './sim-damage.js';
import type { SimNode } from './sim-node.js';
import type { Simulation } from './simulation.js';

type FaultAction = (simulation: Simulation) => void;

function upNodes(simulation: Simulation): SimNode[] {
  return simulation.nodes.filter((node) => node.isUp);
}

function leaderNode(simulation: Simulation): SimNode | null {
  return simulation.nodes.find((node) => node.core?.role === 'leader') ?? null;
}

function afterTicks(simulation: Simulation, ticks: number, run: () => void): void {
  simulation.queue.schedule(simulation.nowUs() + ticks * simulation.options.tickUs, -1, 0, run);
}

/** Crashes `node`: a process kill, or with `powerLoss` a power failure (unsynced data lost). */
export function crashNode(simulation: Simulation, node: SimNode, powerLoss: boolean): void {
  simulation.stats.crashes++;
  simulation.log(`${powerLoss ? 'POWER LOSS' : 'KILL'} ${node.id}`);
  node.crash(powerLoss);
  // A killed process's sockets close at once; peers that can still reach it see the close.
  for (const peer of simulation.nodes) {
    if (peer === node || !peer.isUp) continue;
    if (!simulation.network.isLinkUp(node.index, peer.index) || !simulation.network.isLinkUp(peer.index, node.index)) continue;
    simulation.queue.schedule(simulation.nowUs() + simulation.random.between(100, 3_000), peer.index, peer.incarnation, () => {
      peer.loop?.onPeerDown(node.id);
    });
  }
}

const crash: FaultAction = (simulation) => {
  const leader = leaderNode(simulation);
  const candidates = upNodes(simulation);
  if (candidates.length === 0) return;
  const victim = leader !== null && simulation.random.chance(simulation.options.faults.leaderCrashShare) ? leader : simulation.random.pick(candidates);
  crashNode(simulation, victim, simulation.random.chance(simulation.options.faults.powerLossShare));
  // A third of the processes come back at once (a supervisor restart), the rest after a while.
  const downUs = simulation.random.chance(0.33) ? simulation.random.between(100, 20_000)
    : simulation.random.between(3, 80) * simulation.options.tickUs;
  restartAfter(simulation, victim, downUs);
  // Crashes cluster around elections, where a lost vote or a torn term write would matter:
  // sometimes more nodes crash and restart quickly during the election that follows.
  if (simulation.random.chance(0.4)) {
    const electionWindowUs = 2 * (simulation.options.raft.electionTimeoutTicksMax ?? 20) * simulation.options.tickUs;
    for (let extra = simulation.random.between(1, 3); extra > 0; extra--) {
      simulation.queue.schedule(simulation.nowUs() + simulation.random.below(electionWindowUs), -1, 0, () => {
        const node = simulation.random.pick(simulation.nodes);
        if (!node.isUp || !simulation.faultPhase) return;
        crashNode(simulation, node, simulation.random.chance(simulation.options.faults.powerLossShare));
        restartAfter(simulation, node, simulation.random.between(100, 20_000));
      });
    }
  }
};

/** Restarts `node` after `downUs` (in the liveness phase too: it must come back). */
function restartAfter(simulation: Simulation, node: SimNode, downUs: number): void {
  simulation.queue.schedule(simulation.nowUs() + downUs, -1, 0, () => {
    if (!node.isUp) simulation.startNode(node);
  });
}

const pause: FaultAction = (simulation) => {
  const candidates = upNodes(simulation);
  if (candidates.length === 0) return;
  const leader = leaderNode(simulation);
  const node = leader !== null && simulation.random.chance(0.4) ? leader : simulation.random.pick(candidates);
  const ticks = simulation.random.between(3, 40);
  simulation.stats.pauses++;
  simulation.log(`PAUSE ${node.id} for ${ticks} ticks`);
  node.pausedUntilUs = Math.max(node.pausedUntilUs, simulation.nowUs() + ticks * simulation.options.tickUs);
};

const partition: FaultAction = (simulation) => {
  const random = simulation.random;
  const network = simulation.network;
  const count = simulation.nodes.length;
  const indexes = simulation.nodes.map((node) => node.index);
  const kind = random.between(0, 3);
  simulation.stats.partitions++;
  if (kind === 0) {
    const shuffled = indexes.slice();
    for (let position = shuffled.length - 1; position > 0; position--) {
      const other = random.below(position + 1);
      [shuffled[position], shuffled[other]] = [shuffled[other] as number, shuffled[position] as number];
    }
    const group = shuffled.slice(0, Math.floor(count / 2));
    simulation.log(`PARTITION halves: [${group.map((index) => simulation.nodeIds[index]).join(',')}] | rest`);
    network.separate(group);
  } else if (kind === 1) {
    const leader = leaderNode(simulation);
    const isolated = leader !== null && random.chance(0.5) ? leader.index : random.below(count);
    simulation.log(`PARTITION isolate ${simulation.nodeIds[isolated]}`);
    network.separate([isolated]);
  } else if (kind === 2) {
    const from = random.below(count);
    simulation.log(`PARTITION one-way: nothing from ${simulation.nodeIds[from]} arrives`);
    for (let to = 0; to < count; to++) network.setLink(from, to, false);
  } else {
    const from = random.below(count);
    const to = random.below(count);
    simulation.log(`PARTITION link ${simulation.nodeIds[from]}->${simulation.nodeIds[to]} cut`);
    network.setLink(from, to, false);
  }
  afterTicks(simulation, random.between(10, 120), () => {
    if (!simulation.faultPhase) return;
    simulation.log('HEAL');
    network.healAll();
  });
};

/**
 * `installer` begins to write a leader's snapshot: the leader and it end up on the minority side
 * (on 3 nodes the leader alone), so that a new leader is elected while the install is pending and,
 * once healed, overwrites what the follower took from the old leader behind the snapshot (a
 * client of the old leader writes on meanwhile).
 */
export function partitionDuringInstall(simulation: Simulation, installer: SimNode): void {
  const leader = leaderNode(simulation);
  if (leader === null || leader === installer || !simulation.network.isWhole()) return;
  const group = simulation.nodes.length >= 5 ? [leader.index, installer.index] : [leader.index];
  simulation.stats.partitions++;
  simulation.log(`PARTITION during ${installer.id}'s install: [${group.map((index) => simulation.nodeIds[index]).join(',')}] | rest`);
  simulation.network.separate(group);
  // A client of the old leader writes on: the leader sends the entry after the snapshot to the
  // installing follower only.
  simulation.queue.schedule(simulation.nowUs() + simulation.random.between(500, 5_000), leader.index, leader.incarnation, () => {
    simulation.clientRequestTo(leader, false, false);
  });
  afterTicks(simulation, simulation.random.between(10, 60), () => {
    if (!simulation.faultPhase) return;
    simulation.log('HEAL');
    simulation.network.healAll();
  });
}

/**
 * `leader` begins to stream its snapshot at `index` to `follower` with nothing after that index in
 * its log: the two end up on the minority side (5 nodes; on 3 the leader's link to the third node
 * is cut both ways), a client of the leader writes the entry right after the snapshot, which only
 * the follower takes (behind its pending install, on the leader's retry), and the majority
 * elects a leader that writes a different entry at that index; once healed, its append conflicts
 * at the first index after the snapshot the follower is still writing (issue 7, point 4).
 */
export function partitionAtSnapshotSend(simulation: Simulation, leader: SimNode, follower: SimNode, index: number): void {
  if (leader.core?.role !== 'leader' || leader.core.lastIndex !== index) return;
  const others = simulation.nodes.filter((node) => node !== leader && node !== follower);
  simulation.stats.partitions++;
  simulation.log(`PARTITION at ${leader.id}'s snapshot ${index} to ${follower.id}: ${leader.id} reaches ${follower.id} only`);
  for (const other of others) {
    simulation.network.setLink(leader.index, other.index, false);
    simulation.network.setLink(other.index, leader.index, false);
  }
  // The follower's disk is slow meanwhile: its install is still being written when the new
  // leader's append arrives.
  simulation.diskSlowFactors[follower.index] = 100;
  simulation.queue.schedule(simulation.nowUs() + simulation.random.between(500, 20_000), leader.index, leader.incarnation, () => {
    simulation.clientRequestTo(leader, false, false);
  });
  afterTicks(simulation, simulation.random.between(20, 80), () => {
    simulation.diskSlowFactors[follower.index] = 1;
    if (!simulation.faultPhase) return;
    simulation.log('HEAL');
    simulation.network.healAll();
  });
}

const storm: FaultAction = (simulation) => {
  simulation.log('STORM: heavy message loss');
  simulation.network.stormDropRate = 0.3 + simulation.random.nextFloat() * 0.4;
  afterTicks(simulation, simulation.random.between(5, 30), () => {
    simulation.network.stormDropRate = 0;
  });
};

const slowDisk: FaultAction = (simulation) => {
  const node = simulation.random.pick(simulation.nodes);
  simulation.log(`SLOW DISK ${node.id}`);
  simulation.diskSlowFactors[node.index] = 20;
  afterTicks(simulation, simulation.random.between(5, 50), () => {
    simulation.diskSlowFactors[node.index] = 1;
  });
};

const spuriousClose: FaultAction = (simulation) => {
  const leader = leaderNode(simulation);
  const followers = upNodes(simulation).filter((node) => node !== leader);
  if (leader === null || followers.length === 0) return;
  const follower = simulation.random.pick(followers);
  simulation.log(`SPURIOUS CLOSE seen by ${follower.id} of leader ${leader.id}`);
  follower.loop?.onPeerDown(leader.id);
};

const transfer: FaultAction = (simulation) => {
  const leader = leaderNode(simulation);
  if (leader === null || leader.loop === null) return;
  const target = simulation.random.pick(simulation.nodeIds.filter((id) => id !== leader.id));
  simulation.stats.transfers++;
  simulation.log(`TRANSFER ${leader.id} -> ${target}`);
  leader.loop.transferLeadership(target);
};

/** A node that damage may hit without barring a majority (often the leader), or null. */
function damageVictim(simulation: Simulation): SimNode | null {
  const candidates = simulation.nodes.filter((node) => mayDamage(simulation.nodes, node));
  if (candidates.length === 0) return null;
  const leader = leaderNode(simulation);
  return leader !== null && candidates.includes(leader) && simulation.random.chance(0.3) ? leader : simulation.random.pick(candidates);
}

/** Stops `node` if it runs (a kill: damage at rest happens to a stopped node), damages it, and
 *  restarts it a while later. */
function damageStopped(simulation: Simulation, node: SimNode, damage: () => void): void {
  if (node.isUp) crashNode(simulation, node, false);
  damage();
  restartAfter(simulation, node, simulation.random.between(1, 60) * simulation.options.tickUs);
}

const corruptAtRest: FaultAction = (simulation) => {
  const node = damageVictim(simulation);
  if (node === null) return;
  damageStopped(simulation, node, () => {
    const damaged = corruptRecord(node, simulation.random);
    if (damaged === null) return;
    simulation.stats.recordsDamaged++;
    simulation.log(`DAMAGE AT REST ${node.id}: ${damaged}`);
  });
};

const wipe: FaultAction = (simulation) => {
  const node = damageVictim(simulation);
  if (node === null) return;
  damageStopped(simulation, node, () => {
    simulation.stats.disksWiped++;
    simulation.log(`WIPE ${node.id}: empty data directory`);
    wipeDisk(node);
  });
};

const weightedActions: readonly [number, FaultAction][] = [
  [22, crash], [10, pause], [25, partition], [8, storm], [8, slowDisk], [7, spuriousClose], [10, transfer],
  [4, corruptAtRest], [3, wipe],
];
const weightTotal = weightedActions.reduce((sum, [weight]) => sum + weight, 0);

export function scheduleNextFault(simulation: Simulation): void {
  const meanTicks = simulation.options.faults.intervalTicks;
  afterTicks(simulation, simulation.random.between(Math.ceil(meanTicks / 2), meanTicks + Math.ceil(meanTicks / 2)), () => {
    if (!simulation.faultPhase) return;
    let roll = simulation.random.below(weightTotal);
    for (const [weight, action] of weightedActions) {
      if (roll < weight) {
        action(simulation);
        break;
      }
      roll -= weight;
    }
    scheduleNextFault(simulation);
  });
}
