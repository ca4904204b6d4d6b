/**
 * Keys cluster.yaml used to have, by section, and the names they have now: a file written for an
 * earlier version is refused with the new name (`raft.maxFrameBytes` → `raft.frameBytesMax`)
 * instead of a bare "unknown key".
 *
 * Invariants: every new name is a key of its section in cluster-config.ts, and no old name is
 * (test/config/renamed-keys.test.ts). Entries are never removed: an old file may turn up at any time.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure data, no I/O.
 */

import type { sectionShapes } from './cluster-config.js';

type RenamedKeys = { readonly [Section in keyof typeof sectionShapes]?: Readonly<Record<string, keyof (typeof sectionShapes)[Section]>> };

/** Renamed to put the unit and qualifier last (`<noun><Unit><Qualifier>`). */
export const renamedKeys: RenamedKeys = {
  raft: {
    electionTimeoutMinMs: 'electionTimeoutMsMin',
    electionTimeoutMaxMs: 'electionTimeoutMsMax',
    maxInflightMessages: 'inflightMessagesMax',
    maxInflightBytes: 'inflightBytesMax',
    maxUncommittedBytes: 'uncommittedBytesMax',
    batchMaxEvents: 'batchEventsMax',
    batchMaxDelayMs: 'batchDelayMsMax',
    maxFrameBytes: 'frameBytesMax',
  },
  queue: {
    maxPayloadBytes: 'payloadBytesMax',
    maxClientFrameBytes: 'clientFrameBytesMax',
    defaultMaxAttempts: 'attemptsMaxDefault',
    defaultLeaseMs: 'leaseMsDefault',
  },
  supervisor: {
    restartBackoffMinMs: 'restartBackoffMsMin',
    restartBackoffMaxMs: 'restartBackoffMsMax',
    maxRestarts: 'restartsMax',
  },
};

/** The old names of the section `path` starts with, each with its new name (none at the top level). */
export function renamesAt(path: readonly PropertyKey[]): Readonly<Record<string, string>> {
  const sectionName = path[0];
  if (typeof sectionName !== 'string' || !Object.hasOwn(renamedKeys, sectionName)) return {};
  return renamedKeys[sectionName as keyof typeof renamedKeys] ?? {};
}
