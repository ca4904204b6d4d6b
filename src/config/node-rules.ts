/**
 * Rules between the nodes of a cluster, checked after the schema has passed and data
 * directories have been resolved: unique ids, unique host:port pairs across every port of every
 * node, unique data directories. Also the node-count note (an even count is allowed, with a
 * warning).
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

import type { NodeConfig } from './cluster-config.js';
import type { ConfigProblem } from './config-problem.js';
import { formatFieldPath } from './describe-value.js';

const portFields = ['peerPort', 'clientPort', 'opsPort', 'grpcPort'] as const;

/** Problems in file order: node by node, field by field; each names the earlier user too. */
export function nodeProblems(nodes: readonly NodeConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const idUsers = new Map<string, string>();
  const portUsers = new Map<string, string>();
  const dataDirUsers = new Map<string, string>();
  nodes.forEach((node, index) => {
    const idUser = idUsers.get(node.id);
    if (idUser !== undefined) {
      problems.push({ path: ['nodes', index, 'id'], problem: `duplicate node id '${node.id}' (also ${idUser})` });
    } else {
      idUsers.set(node.id, formatFieldPath(['nodes', index]));
    }
    for (const field of portFields) {
      if (node[field] === undefined) continue; // an optional port left out
      // Host names are case-insensitive; the same address under two spellings is not caught.
      const address = `${node.host.toLowerCase()}:${node[field]}`;
      const portUser = portUsers.get(address);
      const here = formatFieldPath(['nodes', index, field]);
      if (portUser !== undefined) {
        problems.push({
          path: ['nodes', index, field],
          problem: `${address} is used twice: by ${portUser} and by ${here}; every port must be unique per host`,
        });
      } else {
        portUsers.set(address, here);
      }
    }
    const dataDirUser = dataDirUsers.get(node.dataDir);
    if (dataDirUser !== undefined) {
      problems.push({
        path: ['nodes', index, 'dataDir'],
        problem: `${node.dataDir} is also the dataDir of ${dataDirUser}; two nodes must never share a WAL`,
      });
    } else {
      dataDirUsers.set(node.dataDir, formatFieldPath(['nodes', index]));
    }
  });
  return problems;
}

/** Raft commits on a majority: 4 nodes tolerate 1 failure, as 3 do, and need one more vote. */
export function nodeCountWarning(nodeCount: number): string | undefined {
  if (nodeCount % 2 !== 0) return undefined;
  const majority = nodeCount / 2 + 1;
  const failuresTolerated = nodeCount - majority;
  return `${nodeCount} nodes is an even count: a majority is ${majority}, so ${failuresTolerated} node(s) may fail, ` +
    `the same as with ${nodeCount - 1}; prefer an odd count`;
}
