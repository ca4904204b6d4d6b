/**
 * The status a protocol error becomes, as docs/grpc.md's table promises it (the table is read from
 * the page, so the two cannot drift), the leader's address in the metadata, and the bearer token
 * read from a call's metadata.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Metadata, status } from '@grpc/grpc-js';
import { errorCodes } from '../../src/errors.js';
import { bearerToken } from '../../src/grpc/grpc-gateway.js';
import { statusByProtocolCode, toGrpcFailure } from '../../src/grpc/status-mapping.js';
import { file, parseText } from '../config/config-test-support.js';

const grpcDoc = readFileSync(fileURLToPath(new URL('../../../docs/grpc.md', import.meta.url)), 'utf8');

/** Protocol code -> gRPC status name, from the rows of the status table. */
function documentedStatuses(): Map<string, string> {
  const documented = new Map<string, string>();
  for (const row of grpcDoc.matchAll(/^\| ((?:`[A-Z_]+`(?:, )?)+) \| `([A-Z_]+)` \|/gm)) {
    for (const code of (row[1] ?? '').matchAll(/`([A-Z_]+)`/g)) documented.set(code[1] ?? '', row[2] ?? '');
  }
  return documented;
}

describe('gRPC statuses of protocol errors', () => {
  const config = parseText(file('nodes:',
    '  - {id: n1, peerPort: 7101, clientPort: 7201, opsPort: 7301, grpcPort: 7401, dataDir: a}',
    '  - {id: n2, peerPort: 7102, clientPort: 7202, opsPort: 7302, dataDir: b}'));

  it('map as docs/grpc.md says, for every client-facing code of the registry', () => {
    const documented = documentedStatuses();
    const clientFacing = Object.entries(errorCodes).filter(([, number]) => number < 100 || number === errorCodes.INTERNAL).map(([code]) => code);
    expect([...documented.keys()].sort()).to.deep.equal([...clientFacing].sort());
    for (const [code, statusName] of documented) {
      expect(statusByProtocolCode[code], code).to.equal(status[statusName as keyof typeof status]);
    }
  });

  it("NOT_LEADER names the leader's gRPC address and id; a leader without a grpcPort only by id", () => {
    const toN1 = toGrpcFailure({ code: 'NOT_LEADER', message: 'm', leader: { id: 'n1' } }, config);
    expect(toN1.code).to.equal(status.UNAVAILABLE);
    expect(toN1.metadata.getMap()).to.deep.equal({ 'falcon-error-code': 'NOT_LEADER', 'falcon-leader-id': 'n1', 'falcon-leader': '127.0.0.1:7401' });
    const toN2 = toGrpcFailure({ code: 'NOT_LEADER', message: 'm', leader: { id: 'n2' } }, config);
    expect(toN2.metadata.getMap()).to.deep.equal({ 'falcon-error-code': 'NOT_LEADER', 'falcon-leader-id': 'n2' });
    expect(toGrpcFailure({ code: 'NOT_LEADER', message: 'election' }, config).metadata.getMap()).to.deep.equal({ 'falcon-error-code': 'NOT_LEADER' });
  });

  it('an unknown code is UNKNOWN, keeping the code in the metadata', () => {
    const failure = toGrpcFailure({ code: 'SOMETHING_NEW', message: 'm' }, config);
    expect(failure.code).to.equal(status.UNKNOWN);
    expect(failure.metadata.get('falcon-error-code')).to.deep.equal(['SOMETHING_NEW']);
  });
});

describe('the bearer token of a gRPC call', () => {
  const metadataWith = (...values: string[]): Metadata => {
    const metadata = new Metadata();
    for (const value of values) metadata.add('authorization', value);
    return metadata;
  };
  const tokenOf = (...values: string[]): string | undefined | 'refused' => {
    const credential = bearerToken(metadataWith(...values));
    return credential.ok ? credential.token : 'refused';
  };

  it('is read from `authorization: Bearer <token>`, absent without the metadata, refused in any other form', () => {
    expect(tokenOf()).to.equal(undefined);
    expect(tokenOf('Bearer s3cr3t')).to.equal('s3cr3t');
    expect(tokenOf('bearer   s3cr3t')).to.equal('s3cr3t');
    expect(tokenOf('  Bearer s3cr3t  '), 'whitespace around the value is not part of it, as in HTTP').to.equal('s3cr3t');
    for (const refused of ['Basic dXNlcjpwdw==', 'Bearer ', 'Bearer a b', 'Bearers3cr3t', `Bearer ${'x'.repeat(257)}`]) {
      expect(tokenOf(refused), refused.slice(0, 20)).to.equal('refused');
    }
    expect(tokenOf(`Bearer ${'x'.repeat(256)}`)).to.equal('x'.repeat(256));
  });

  it('refuses two authorization values, whatever they hold, without quoting either', () => {
    for (const pair of [['Bearer good-token-000000', 'Bearer other-token-00000'], ['Bearer same-token-000000', 'Bearer same-token-000000']]) {
      const credential = bearerToken(metadataWith(...pair));
      expect(credential.ok).to.equal(false);
      expect(JSON.stringify(credential)).to.contain('2 times').and.not.contain('token-0');
    }
  });
});
