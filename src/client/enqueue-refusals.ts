/**
 * What an EnqueueBatcher's calls reject with when a node refuses their request: the owner of a
 * job a field refusal names (`jobs[i]...`, as that call names its own job), the "outcome unknown"
 * of a sequence the node can no longer tell, and that of a call whose jobs a set that may have
 * been applied carried when the request ended without a reply saying which set was.
 *
 * Invariants: an "outcome unknown" error says `sent: true`; a rebased refusal keeps the node's
 * code, detail (its `field` renamed) and `sent`.
 *
 * Runs on: any thread of a client process.
 */
import { ClientClosedError, UnavailableError, errorOfCode, jobIndexOf, type ProtocolError } from './errors.js';

/** What the batcher knows of a call: how many jobs it has, and whether it names them `jobs[k]`. */
export interface RefusableCall {
  readonly jobs: readonly unknown[];
  /** How this call names its own job `k` in an error: `jobs[k]` for enqueueMany, '' for one job. */
  readonly many: boolean;
}

/** The call among `calls` (in request order) that owns the job a field refusal names, with the
 *  refusal as that call names its job; undefined when `error` names no job of theirs. */
export function fieldRefusalOwner<Call extends RefusableCall>(calls: readonly Call[], error: ProtocolError): { owner: Call; refusal: ProtocolError } | undefined {
  const index = error.code === 'INVALID_ARGUMENT' || error.code === 'PAYLOAD_TOO_LARGE' ? jobIndexOf(error) : undefined;
  if (index === undefined) return undefined;
  let offset = 0;
  for (const call of calls) {
    if (index < offset + call.jobs.length) return { owner: call, refusal: rebased(error, index, offset, call.many) };
    offset += call.jobs.length;
  }
  return undefined;
}

/** The error of a sequenced enqueue the node refused as older than its session remembers: the
 *  request may have been applied (once) before, so its outcome is unknown. */
export function sequenceForgotten(sequence: number, refusal: ProtocolError): UnavailableError {
  return new UnavailableError(`enqueue outcome unknown: the node cannot tell whether request sequence ${sequence} was applied `
    + `(FAILED_PRECONDITION: ${refusal.message}); each job may exist once or not at all: look it up, or enqueue it again with an idempotencyKey`,
  { sent: true, cause: refusal, detail: { ...refusal.detail, sequence } });
}

/** The error of a call whose jobs an attempt of request `sequence` that may have been applied
 *  carried, when the request ended with `ending` (a refusal, or the client's close) before a reply
 *  said which of its job sets was applied. */
export function outcomeUnknown(sequence: number, ending: ProtocolError): ProtocolError {
  if (ending.code === 'CLIENT_CLOSED') {
    return new ClientClosedError(`the client was closed before request sequence ${sequence}, which may have added this job, was answered`, { sent: true, cause: ending });
  }
  return new UnavailableError(`enqueue outcome unknown: request sequence ${sequence} ended with ${ending.code} (${ending.message}), `
    + 'but an earlier attempt of it that carried this job may have been applied by a node that judges it otherwise; '
    + 'the job may exist once or not at all: look it up, or enqueue it again with an idempotencyKey',
  { sent: true, cause: ending, detail: { ...ending.detail, sequence } });
}

/** `error` with its job path (`jobs[index]`) as the owning call names it (`jobs[k]`, or none for one job). */
function rebased(error: ProtocolError, index: number, offset: number, many: boolean): ProtocolError {
  const from = `jobs[${index}]`;
  const to = many ? `jobs[${index - offset}]` : '';
  const rename = (text: string): string => text.split(`${from}.`).join(to === '' ? '' : `${to}.`).split(from).join(to === '' ? 'job' : to);
  const field = error.detail?.['field'];
  const detail = { ...error.detail, ...(typeof field === 'string' ? { field: rename(field) } : {}) };
  return errorOfCode(error.code, rename(error.message), { detail, leader: error.leader, sent: error.sent });
}
