/**
 * Shared pieces of the config tests: a minimal valid node list and an assertion that a text is
 * refused with exactly the expected ConfigError.
 *
 * Runs on: the mocha process.
 */

import { expect } from 'chai';
import { ConfigError } from '../../src/config/config-error.js';
import { parseClusterConfig } from '../../src/config/load-config.js';
import type { ClusterConfig } from '../../src/config/cluster-config.js';

export const testSource = 'cluster.yaml';
export const testBaseDir = '/srv/falcon';

/** Three valid nodes as YAML lines (lines 2 to 8 when placed right after `nodes:` on line 1). */
export const threeNodesYaml = [
  'nodes:',
  '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: ./data/n1}',
  '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: ./data/n2}',
  '  - {id: n3, peerPort: 7103, clientPort: 7203, opsPort: 7303, dataDir: ./data/n3}',
].join('\n');

export function parseText(text: string): ClusterConfig {
  return parseClusterConfig(text, testSource, testBaseDir);
}

export interface ExpectedRefusal {
  /** The whole message (one line per problem); left out when the test reads the lines itself. */
  readonly message?: string;
  readonly field?: string | undefined;
  readonly line?: number | undefined;
}

/** Parses `text` and checks it is refused with exactly this message, field and line. */
export function expectRefused(text: string, expected: ExpectedRefusal): ConfigError {
  let thrown: unknown;
  try {
    parseText(text);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a refusal of:\n${text}`).to.be.instanceOf(ConfigError);
  const error = thrown as ConfigError;
  if (expected.message !== undefined) expect(error.message).to.equal(expected.message);
  expect(error.source).to.equal(testSource);
  expect(error.field, 'field').to.equal(expected.field);
  expect(error.line, 'line').to.equal(expected.line);
  return error;
}

/** A file whose line N is `lines[N - 1]`. */
export function file(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
