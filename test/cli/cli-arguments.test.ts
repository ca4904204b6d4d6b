/**
 * The `falcon` command line's value parsers and table layout, without a cluster: durations and
 * backoffs as an operator writes them, malformed values refused as usage (exit 2) naming the
 * option, and tables whose numbers line up on the right.
 *
 * Runs on: the mocha process.
 */
import { expect } from 'chai';
import { parseAddressList, parseBackoff, parseDurationMs, parseInteger } from '../../src/cli/cli-arguments.js';
import { CliFailure, cliExitCodes } from '../../src/cli/cli-failure.js';
import { formatAgeMs, formatTable } from '../../src/cli/text-table.js';

function usageRefusal(run: () => unknown): CliFailure {
  try {
    run();
  } catch (error) {
    expect(error).to.be.instanceOf(CliFailure);
    expect((error as CliFailure).exitCode).to.equal(cliExitCodes.usage);
    return error as CliFailure;
  }
  throw new Error('expected a usage refusal');
}

describe('falcon command-line values', () => {
  it('reads durations in ms, s, m and h', () => {
    expect(['1500', '1500ms', '30s', '1.5s', '5m', '2h'].map((text) => parseDurationMs(text, '--delay'))).to.deep.equal([1500, 1500, 30_000, 1500, 300_000, 7_200_000]);
    expect(usageRefusal(() => parseDurationMs('soon', '--delay')).message).to.contain('--delay must be a duration');
    usageRefusal(() => parseDurationMs('-5s', '--delay'));
  });

  it('reads fixed and exponential backoffs, with units, a cap and a jitter', () => {
    expect(parseBackoff('fixed:500')).to.deep.equal({ kind: 'fixed', delayMs: 500 });
    expect(parseBackoff('exponential:1000:60000')).to.deep.equal({ kind: 'exponential', delayMs: 1000, delayMsMax: 60_000 });
    expect(parseBackoff('exponential:1s:5m:0.2')).to.deep.equal({ kind: 'exponential', delayMs: 1000, delayMsMax: 300_000, jitterRatio: 0.2 });
    for (const bad of ['linear:5', 'fixed', 'fixed:x', 'exponential:1:2:3', 'exponential:1:2:0.5:9']) usageRefusal(() => parseBackoff(bad));
  });

  it('reads integers and address lists, refusing what is not one', () => {
    expect(parseInteger('-7', '--priority')).to.equal(-7);
    expect(usageRefusal(() => parseInteger('0', '--attempts', 1)).detail).to.deep.equal({ field: '--attempts' });
    usageRefusal(() => parseInteger('1.5', '--priority'));
    expect(parseAddressList('127.0.0.1:7201, [::1]:7202', '--nodes')).to.deep.equal([{ host: '127.0.0.1', port: 7201 }, { host: '::1', port: 7202 }]);
    usageRefusal(() => parseAddressList('localhost', '--nodes'));
    usageRefusal(() => parseAddressList('a:70000', '--nodes'));
  });

  it('lines tables up: text on the left, numbers on the right, missing values as -', () => {
    expect(formatTable(['QUEUE', 'READY'], [['email', 3], ['thumbnails', 120], ['x', null]]).split('\n')).to.deep.equal([
      'QUEUE       READY',
      'email           3',
      'thumbnails    120',
      'x               -',
    ]);
    expect([850, 12_300, 245_000, 11_520_000].map(formatAgeMs)).to.deep.equal(['850ms', '12.3s', '4m05s', '3h12m']);
  });
});
