/**
 * A cluster.yaml written for an earlier version, with a key by its old name (qualifier first:
 * `maxFrameBytes`), is refused with the key's new name, in every section that renamed keys; a
 * misspelling of an old name is pointed at the new name too. The table of renamed keys itself
 * stays true: every new name is a key of its section and no old name is one.
 *
 * Runs on: the mocha process.
 */

import { expect } from 'chai';
import { sectionShapes } from '../../src/config/cluster-config.js';
import { renamedKeys } from '../../src/config/renamed-keys.js';
import { expectRefused, file, parseText, threeNodesYaml } from './config-test-support.js';


describe('cluster.yaml refusals: keys renamed to put the qualifier last', () => {
  it('an old raft key is refused with its new name', () => {
    expectRefused(file('raft:', '  preVote: true', '  maxFrameBytes: 16777216', threeNodesYaml), {
      message: 'cluster.yaml:3: raft.maxFrameBytes: was renamed: use raft.frameBytesMax',
      field: 'raft.maxFrameBytes', line: 3,
    });
    expectRefused(file('raft:', '  electionTimeoutMinMs: 300', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.electionTimeoutMinMs: was renamed: use raft.electionTimeoutMsMin',
      field: 'raft.electionTimeoutMinMs', line: 2,
    });
  });

  it('an old queue key in a flow mapping is refused with its new name', () => {
    expectRefused(file('queue: {defaultMaxAttempts: 3}', threeNodesYaml), {
      message: 'cluster.yaml:1: queue.defaultMaxAttempts: was renamed: use queue.attemptsMaxDefault',
      field: 'queue.defaultMaxAttempts', line: 1,
    });
  });

  it('an old supervisor key is refused with its new name', () => {
    expectRefused(file(threeNodesYaml, 'supervisor:', '  restartWindowMs: 60000', '  maxRestarts: 5'), {
      message: 'cluster.yaml:7: supervisor.maxRestarts: was renamed: use supervisor.restartsMax',
      field: 'supervisor.maxRestarts', line: 7,
    });
  });

  it('every old key of a file is named in one refusal, so a file is brought up to date in one go', () => {
    expectRefused(file('raft:', '  batchMaxEvents: 64', '  batchMaxDelayMs: 1', 'queue:', '  maxPayloadBytes: 10', threeNodesYaml), {
      message: 'cluster.yaml:2: raft.batchMaxEvents: was renamed: use raft.batchEventsMax\n'
        + 'cluster.yaml:3: raft.batchMaxDelayMs: was renamed: use raft.batchDelayMsMax\n'
        + 'cluster.yaml:5: queue.maxPayloadBytes: was renamed: use queue.payloadBytesMax',
      field: 'raft.batchMaxEvents', line: 2,
    });
  });

  it('a misspelt old key is pointed at the new name, not the old one', () => {
    expectRefused(file('raft:', '  max_frame_bytes: 1048576', threeNodesYaml), {
      message: "cluster.yaml:2: raft.max_frame_bytes: unknown key 'max_frame_bytes' in section 'raft'; did you mean 'frameBytesMax'?",
      field: 'raft.max_frame_bytes', line: 2,
    });
  });

  it('a file that uses the new names loads', () => {
    const config = parseText(file('raft:', '  frameBytesMax: 8388608', 'queue: {attemptsMaxDefault: 3}',
      'supervisor: {restartsMax: 2}', threeNodesYaml));
    expect(config.raft.frameBytesMax).to.equal(8_388_608);
    expect(config.queue.attemptsMaxDefault).to.equal(3);
    expect(config.supervisor.restartsMax).to.equal(2);
  });

  it('every new name is a key of its section, and no old name is', () => {
    for (const [sectionName, renames] of Object.entries(renamedKeys)) {
      const knownKeys = Object.keys(sectionShapes[sectionName as keyof typeof sectionShapes]);
      for (const [oldKey, newKey] of Object.entries(renames)) {
        expect(knownKeys, `${sectionName}.${oldKey} → ${newKey}`).to.include(newKey);
        expect(knownKeys, `${sectionName}.${oldKey}`).not.to.include(oldKey);
      }
    }
  });
});
