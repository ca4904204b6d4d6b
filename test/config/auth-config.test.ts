/**
 * cluster.yaml's `auth` section and nodes' `listen` addresses: what loads, and what is refused
 * with a message naming the file, the line and the field, and never showing a token.
 *
 * Runs on: the mocha process (temp files for tokensFile and handler modules).
 */

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localWorkerToken, tokenLabel } from '../../src/config/auth-config.js';
import { listenHostOf } from '../../src/config/listen-addresses.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseClusterConfig } from '../../src/config/load-config.js';
import { expectRefused, file, parseText, threeNodesYaml } from './config-test-support.js';

const producerToken = 'produce-token-0123456789';
const consumerToken = 'consume-token-0123456789';
const adminToken = 'admin-token-0123456789ab';

describe('cluster.yaml: auth tokens', () => {
  it('no auth section: no tokens (an open cluster)', () => {
    expect(parseText(threeNodesYaml).auth).to.deep.equal({ tokens: [] });
  });

  it('inline tokens load with their roles and names, and are labelled by name or a short hash', () => {
    const config = parseText(file(
      'auth:',
      '  tokens:',
      `    - { token: ${producerToken}, role: produce, name: web }`,
      `    - { token: ${consumerToken}, role: consume }`,
      threeNodesYaml,
    ));
    expect(config.auth.tokens).to.deep.equal([
      { token: producerToken, role: 'produce', name: 'web' },
      { token: consumerToken, role: 'consume' },
    ]);
    const [web, unnamed] = config.auth.tokens;
    expect(tokenLabel(web!)).to.equal('web');
    expect(tokenLabel(unnamed!)).to.match(/^sha256:[0-9a-f]{8}$/);
    expect(tokenLabel(unnamed!)).to.not.contain(consumerToken.slice(0, 8));
  });

  it('a short token is refused with the minimum and its reason, without showing the token', () => {
    const error = expectRefused(file('auth:', '  tokens:', '    - { token: hunter2, role: admin }', threeNodesYaml), {
      field: 'auth.tokens[0].token', line: 3,
    });
    expect(error.message).to.contain('16 to 256 visible ASCII characters');
    expect(error.message).to.contain('can be guessed');
    expect(error.message).to.contain('got 7 characters');
    expect(error.message).to.not.contain('hunter2');
  });

  it('a token with spaces is refused without showing it', () => {
    const error = expectRefused(file('auth:', '  tokens:', '    - { token: "secret with spaces inside", role: admin }', threeNodesYaml), {
      field: 'auth.tokens[0].token', line: 3,
    });
    expect(error.message).to.contain('including spaces or non-ASCII characters');
    expect(error.message).to.not.contain('secret');
  });

  it('a token written where a mapping, a list or a role belongs is refused by its length, not shown', () => {
    const secret = 'a-secret-written-in-the-wrong-place';
    const cases: Array<[string, string]> = [
      [`auth:\n  tokens: [${secret}]`, 'auth.tokens[0]'],
      [`auth:\n  tokens: ${secret}`, 'auth.tokens'],
      [`auth: ${secret}`, 'auth'],
      [`auth:\n  tokens: [{ token: ${producerToken}, role: ${secret} }]`, 'auth.tokens[0].role'],
    ];
    for (const [section, field] of cases) {
      const error = expectRefused(`${section}\n${threeNodesYaml}\n`, { field, line: section.split('\n').length });
      expect(error.message).to.contain(`got a string of ${secret.length} characters`);
      expect(error.message, field).to.not.contain(secret.slice(0, 10));
    }
  });

  it('a token listed twice is refused at its second use, naming the first, without showing it', () => {
    const error = expectRefused(file(
      'auth:',
      '  tokens:',
      `    - { token: ${producerToken}, role: produce }`,
      `    - { token: ${consumerToken}, role: consume }`,
      `    - { token: ${producerToken}, role: admin }`,
      threeNodesYaml,
    ), { field: 'auth.tokens[2].token', line: 5 });
    expect(error.message).to.contain('the same token as [0]; each token must be listed once');
    expect(error.message).to.not.contain(producerToken);
  });

  it('an unknown role, a missing role and an unknown key are refused, each naming the field', () => {
    expectRefused(file('auth:', '  tokens:', `    - { token: ${producerToken}, role: writer }`, threeNodesYaml), {
      message: "cluster.yaml:3: auth.tokens[0].role: expected one of 'produce', 'consume', 'admin', got \"writer\"",
      field: 'auth.tokens[0].role', line: 3,
    });
    expectRefused(file('auth:', '  tokens:', `    - { token: ${producerToken} }`, threeNodesYaml), {
      message: "cluster.yaml:3: auth.tokens[0].role: missing; expected one of 'produce', 'consume', 'admin'",
      field: 'auth.tokens[0].role', line: 3,
    });
    expectRefused(file('auth:', '  tokens:', `    - { token: ${producerToken}, role: admin, nmae: ops }`, threeNodesYaml), {
      message: "cluster.yaml:3: auth.tokens[0].nmae: unknown key 'nmae' in auth.tokens[0]; did you mean 'name'?",
      field: 'auth.tokens[0].nmae', line: 3,
    });
  });

  describe('tokensFile', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'falcon-auth-'));
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const load = (text: string) => parseClusterConfig(text, 'cluster.yaml', dir);
    const refusalOf = (text: string): ConfigError => {
      try {
        load(text);
      } catch (error) {
        if (error instanceof ConfigError) return error;
        throw error;
      }
      throw new Error('expected a refusal');
    };

    it('loads the file, relative to the cluster file, after the inline tokens', () => {
      writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - { token: ${consumerToken}, role: consume, name: workers }\n`);
      const config = load(file('auth:', `  tokens: [{ token: ${producerToken}, role: produce }]`, '  tokensFile: ./tokens.yaml', threeNodesYaml));
      expect(config.auth.tokens.map((entry) => entry.role)).to.deep.equal(['produce', 'consume']);
      expect(config.auth.tokensFile).to.equal(join(dir, 'tokens.yaml'));
    });

    it('a missing file is refused at auth.tokensFile, naming the path it looked at', () => {
      const error = refusalOf(file('auth:', '  tokensFile: ./nowhere.yaml', threeNodesYaml));
      expect(error.field).to.equal('auth.tokensFile');
      expect(error.line).to.equal(2);
      expect(error.problem).to.equal(`cannot read the tokens file ${join(dir, 'nowhere.yaml')}: no such file (ENOENT) (relative paths resolve against the config file's directory)`);
    });

    it('a bad entry in the file is refused with the file\'s own name, line and field', () => {
      writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - { token: ${consumerToken}, role: consume }\n  - { token: ${adminToken}, role: root }\n`);
      const error = refusalOf(file('auth:', '  tokensFile: tokens.yaml', threeNodesYaml));
      expect(error.source).to.equal(join(dir, 'tokens.yaml'));
      expect(error.line).to.equal(3);
      expect(error.field).to.equal('tokens[1].role');
    });

    it('a file that is not a tokens list, or lists none, is refused (an emptied file must not open the cluster)', () => {
      writeFileSync(join(dir, 'list.yaml'), `- { token: ${consumerToken}, role: consume }\n`);
      expect(refusalOf(file('auth:', '  tokensFile: list.yaml', threeNodesYaml)).problem).to.contain('expected a mapping with one key, `tokens:`');
      writeFileSync(join(dir, 'empty.yaml'), 'tokens: []\n');
      const empty = refusalOf(file('auth:', '  tokensFile: empty.yaml', threeNodesYaml));
      expect(empty.field).to.equal('auth.tokensFile');
      expect(empty.problem).to.contain('lists no token, which would leave the cluster open');
    });

    it('a token both inline and in the file is refused, without showing it', () => {
      writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n  - { token: ${producerToken}, role: admin }\n`);
      const error = refusalOf(file('auth:', `  tokens: [{ token: ${producerToken}, role: produce }]`, '  tokensFile: tokens.yaml', threeNodesYaml));
      expect(error.field).to.equal('auth.tokensFile');
      expect(error.problem).to.contain('is the same token as auth.tokens[0]');
      expect(error.message).to.not.contain(producerToken);
    });

    it('handlers with tokens need a consume or admin token, which they use; without one the file is refused', () => {
      writeFileSync(join(dir, 'email.mjs'), 'export default async () => 1;\n');
      const handlers = 'handlers:\n  email: { module: ./email.mjs }';
      const refused = refusalOf(file('auth:', `  tokens: [{ token: ${producerToken}, role: produce }]`, handlers, threeNodesYaml));
      expect(refused.field).to.equal('auth.tokens');
      expect(refused.problem).to.contain("local handlers (handlers.email) pull through the client port and need a token with role 'consume' or 'admin'");
      const config = load(file('auth:', '  tokens:', `    - { token: ${producerToken}, role: produce }`, `    - { token: ${adminToken}, role: admin }`,
        `    - { token: ${consumerToken}, role: consume }`, handlers, threeNodesYaml));
      expect(localWorkerToken(config.auth)?.token).to.equal(adminToken);
      // Tokens without handlers need no consumer.
      expect(load(file('auth:', `  tokens: [{ token: ${producerToken}, role: produce }]`, threeNodesYaml)).auth.tokens).to.have.length(1);
    });
  });
});

describe('cluster.yaml: listen addresses', () => {
  const node = (listen: string): string => file(
    'nodes:',
    `  - { id: n1, host: localhost, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: d, listen: ${listen} }`,
  );

  it('each port binds its listen address, else the node\'s host; wildcards are allowed', () => {
    const [n1] = parseText(node('{ client: 0.0.0.0, ops: "::", peer: 127.0.0.1, grpc: 10.0.0.5 }')).nodes;
    expect(listenHostOf(n1!, 'client')).to.equal('0.0.0.0');
    expect(listenHostOf(n1!, 'ops')).to.equal('::');
    expect(listenHostOf(n1!, 'peer')).to.equal('127.0.0.1');
    expect(listenHostOf(n1!, 'grpc')).to.equal('10.0.0.5');
    const [plain] = parseText(threeNodesYaml).nodes;
    expect(['peer', 'client', 'ops', 'grpc'].map((port) => listenHostOf(plain!, port as 'peer'))).to.deep.equal(Array(4).fill('127.0.0.1'));
    expect(listenHostOf(parseText(node('{ ops: 127.0.0.2 }')).nodes[0]!, 'client')).to.equal('localhost');
  });

  it('a bad address or an unknown port key is refused naming the field; host itself stays no wildcard', () => {
    expectRefused(node('{ client: "not an address" }'), {
      message: 'cluster.yaml:2: nodes[0].listen.client: expected an IP address or host name to listen on (0.0.0.0 or :: for every interface), got "not an address"',
      field: 'nodes[0].listen.client', line: 2,
    });
    expectRefused(node('{ http: 0.0.0.0 }'), {
      message: "cluster.yaml:2: nodes[0].listen.http: unknown key 'http' in nodes[0].listen; known keys: peer, client, ops, grpc",
      field: 'nodes[0].listen.http', line: 2,
    });
    expectRefused(file('nodes:', '  - { id: n1, host: 0.0.0.0, peerPort: 7101, clientPort: 7201, opsPort: 7301, dataDir: d }'), {
      field: 'nodes[0].host', line: 2,
    });
  });
});
