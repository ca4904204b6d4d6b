/**
 * Checks the role requests of the control link (control.ts), one checker per direction:
 * `checkRoleRequest` on the actor thread for what the supervisor asks, `checkRoleResponse` on the
 * supervisor for what the role answers (against the kind it asked). The control ring carries
 * MessagePack, so both sides see plain maps. And `checkRaftLoadRequest`, the same check of a load
 * request's fields, for the JSON body of POST /debug/raft-load.
 *
 * Shape and bounds only (types, integers within raftLoadLimits, the fields each kind declares),
 * not meaning. A request or answer that fails here is a bug on the other side of the ring, an
 * INTERNAL error naming the kind and the field: the actor answers it with `refused`, and the
 * supervisor's ask answers it as its failure, so nobody waits for an answer that will not come.
 *
 * Invariant: a value these accept has every field its kind declares in control.ts, with that
 * type; a check allocates nothing for a well-formed value (src/log/shape-check.ts).
 *
 * Runs on: supervisor and every actor thread.
 */
import { falconError, isFalconError, type FalconError } from '../errors.js';
import {
  compile, boolean, fields, finiteNumber, integerFrom, isMap, joined, oneOf, optional, orNull, readableProblem, safeInteger, text, type ShapeCheck,
} from '../log/shape-check.js';
import { checkMessage } from './link-checks.js';
import { handOverEnds, raftLoadLimits, type RaftLoadRequest, type ResponseOf, type RoleRequest, type RoleRequestKind } from './control.js';

const raftLoadFields = {
  entries: integerFrom(1, raftLoadLimits.entriesMax),
  batch: integerFrom(1, raftLoadLimits.batchMax),
  payloadBytes: integerFrom(0, raftLoadLimits.payloadBytesMax),
  inflight: integerFrom(1, raftLoadLimits.inflightMax),
  timeoutMs: integerFrom(1, raftLoadLimits.timeoutMsMax),
  leaderWaitMs: optional(integerFrom(0, raftLoadLimits.leaderWaitMsMax)),
} as const satisfies Readonly<Record<Exclude<keyof RaftLoadRequest, 'type'>, ShapeCheck>>;

/** Every request kind and its fields: the one list of them. */
const requestFields: Readonly<Record<RoleRequestKind, Readonly<Record<string, ShapeCheck>>>> = {
  handOverLeadership: { timeoutMs: safeInteger },
  raftLoad: raftLoadFields,
};
const requestChecks = compile(requestFields);

const raftLoadFiguresCheck = fields({
  committed: safeInteger, lost: safeInteger, seconds: finiteNumber, entriesPerSecond: finiteNumber,
  latencyMsP50: finiteNumber, latencyMsP99: finiteNumber, latencyMsMax: finiteNumber, lastIndex: safeInteger,
});
const raftLoadOutcomeCheck = fields({ ok: boolean, error: optional(text) });

/** A load's answer: figures when it ran (with `error` when it ended early), else only `error`. */
const raftLoadResult: ShapeCheck = (value) => {
  const problem = raftLoadOutcomeCheck(value);
  if (problem !== undefined) return problem;
  if (!isMap(value)) return 'is not a map';
  if (value['ok'] === true) return value['error'] === undefined ? raftLoadFiguresCheck(value) : '.error is set on a load that is ok';
  if (value['error'] === undefined) return '.error is missing on a load that is not ok';
  return value['committed'] === undefined ? undefined : raftLoadFiguresCheck(value);
};

/** Every request kind and the check of its answer. */
const responseChecks: Readonly<Record<RoleRequestKind, ShapeCheck>> = {
  handOverLeadership: fields({ leading: boolean, handedTo: orNull(text), end: orNull(oneOf(...handOverEnds)), ms: finiteNumber }),
  raftLoad: raftLoadResult,
};

const refusalCheck = fields({ error: (value) => (isFalconError(value) ? undefined : 'is not an error value { code, message }') });

/** `value` as a role request, or INTERNAL naming the kind and the field. */
export function checkRoleRequest(value: unknown): RoleRequest | FalconError {
  return checkMessage<RoleRequest>(value, 'supervisor → actor role request', requestChecks);
}

const responseDirection = 'actor → supervisor role response';

/**
 * The answer to a request of kind `asked`, or an error value: the role's refusal as it sent it,
 * or INTERNAL naming what is wrong (not a map, the answer to another kind, a missing or
 * mistyped field).
 */
export function checkRoleResponse<Kind extends RoleRequestKind>(value: unknown, asked: Kind): ResponseOf<Kind> | FalconError {
  if (!isMap(value)) return falconError('INTERNAL', `malformed ${responseDirection} to ${asked}: it is not a map`);
  const type = value['type'];
  if (type === 'refused') {
    const problem = refusalCheck(value);
    return problem === undefined ? value['error'] as FalconError : falconError('INTERNAL', `malformed ${responseDirection} to ${asked}: refused${problem}`);
  }
  if (type !== asked) return falconError('INTERNAL', `malformed ${responseDirection} to ${asked}: it answers ${String(type)}`);
  const answer = value['answer'];
  const problem = responseChecks[asked](answer);
  if (problem !== undefined) return falconError('INTERNAL', `malformed ${responseDirection} to ${asked}: .answer${joined(problem)}`);
  return answer as ResponseOf<Kind>; // every field the kind's answer declares was checked above
}

const raftLoadCheck = fields(raftLoadFields);

/**
 * A load request from outside the node (the JSON body of POST /debug/raft-load): its fields
 * checked as the Replicator will check them, or INVALID_ARGUMENT naming the field and its bound
 * (`entries is not an integer from 1 to 10000000 (got 0)`).
 */
export function checkRaftLoadRequest(body: unknown): RaftLoadRequest | FalconError {
  if (!isMap(body)) return falconError('INVALID_ARGUMENT', 'the load request is not a JSON map');
  const problem = raftLoadCheck(body);
  if (problem !== undefined) return falconError('INVALID_ARGUMENT', readableProblem(problem));
  return { ...body, type: 'raftLoad' } as RaftLoadRequest; // every field a load request declares was checked above
}
