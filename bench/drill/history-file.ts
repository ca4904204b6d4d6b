/**
 * The drill history as JSON lines, so a failed drill's history can be saved and checked again
 * offline (`node dist/bench/drill/check-history.js <file>`):
 *
 *   line 1   {"format":"falcon-drill-history","version":1,"seed":…}
 *   then     one record per line, as history.ts defines it (`{"kind":"enqueue",…}`), in invoke order
 *   last     {"kind":"final","jobs":[{"jobId":…,"state":…,"payloadOpId":…},…]}   (absent: nothing drained)
 *
 * Reading validates every line (a file is a boundary) and answers the first bad line as an error
 * value naming its number; it never throws on bad input. Both ways go line by line, so a history
 * larger than one string can hold is written and read as a stream.
 *
 * Pure: text in, text out; the caller reads and writes the file.
 *
 * Runs on: the drill runner's process and the offline checker.
 */
import { z } from 'zod';
import { failure, falconError, success, type Outcome } from '../../src/errors.js';
import { jobStates } from '../../src/queue/results.js';
import type { DrillFinalState, HistoryRecord } from './history.js';
import { faultKinds, nodeRoles } from './history.js';

export const historyFormat = 'falcon-drill-history';
export const historyVersion = 1;

const timeMs = z.number().finite().nonnegative();
const positiveId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const name = z.string().min(1);
const codeOutcome = <Type extends 'failed' | 'unknown' | 'refused'>(type: Type) => z.object({ type: z.literal(type), code: z.string() });

const callFields = { process: name, invokeMs: timeMs, completeMs: timeMs.optional(), node: name.optional() };

const enqueueSchema = z.object({
  kind: z.literal('enqueue'), ...callFields, opId: name, idempotencyKey: name.optional(),
  outcome: z.union([
    z.object({ type: z.literal('pending') }),
    z.object({ type: z.literal('ok'), jobId: positiveId, duplicate: z.boolean() }),
    codeOutcome('failed'), codeOutcome('unknown'),
  ]),
});

const leaseCallSchema = z.object({
  kind: z.enum(['ack', 'nack', 'extend']), ...callFields, jobId: positiveId, token: positiveId,
  outcome: z.union([
    z.object({ type: z.literal('pending') }),
    z.object({ type: z.literal('accepted'), repeated: z.boolean(), deadlineMs: timeMs.optional() }),
    codeOutcome('refused'), codeOutcome('unknown'),
  ]),
});

const callSchema = z.object({
  kind: z.literal('call'), ...callFields, call: name,
  outcome: z.union([z.object({ type: z.literal('pending') }), z.object({ type: z.literal('ok') }), codeOutcome('failed'), codeOutcome('unknown')]),
});

const deliverySchema = z.object({
  kind: z.literal('delivery'), jobId: positiveId, token: positiveId, attempt: positiveId, payloadOpId: name,
  workerId: name, atMs: timeMs, deadlineMs: timeMs, node: name.optional(),
});

const faultSchema = z.object({ kind: z.literal('fault'), fault: z.enum(faultKinds), target: z.string(), startMs: timeMs, endMs: timeMs.optional() });

const observationSchema = z.object({
  kind: z.literal('observation'), atMs: timeMs, node: name, term: z.number().int().nonnegative(), role: z.enum(nodeRoles), leader: name.nullable(),
  commit: z.number().int().nonnegative().optional(),
});

const releasedSchema = z.object({ kind: z.literal('released'), atMs: timeMs, workerId: name, jobIds: z.array(positiveId).optional(), reason: z.string() });

const finalSchema = z.object({
  kind: z.literal('final'),
  jobs: z.array(z.object({ jobId: positiveId, state: z.enum(jobStates), payloadOpId: name.optional() })),
});

const headerSchema = z.object({ format: z.literal(historyFormat), version: z.literal(historyVersion), seed: z.union([z.number(), z.string()]) });

const recordSchemas = {
  enqueue: enqueueSchema, ack: leaseCallSchema, nack: leaseCallSchema, extend: leaseCallSchema, call: callSchema,
  delivery: deliverySchema, fault: faultSchema, observation: observationSchema, released: releasedSchema,
} as const;

export interface SavedHistory {
  readonly seed: number | string;
  readonly records: readonly HistoryRecord[];
  /** Null when the file has no final line (the drill stopped before its drain). */
  readonly final: DrillFinalState | null;
}

/** The file's lines, without their newlines: a long drill's history is written line by line. */
export function* historyJsonLines(history: SavedHistory): Generator<string> {
  yield JSON.stringify({ format: historyFormat, version: historyVersion, seed: history.seed });
  for (const record of history.records) yield JSON.stringify(record);
  if (history.final !== null) yield JSON.stringify({ kind: 'final', jobs: history.final.jobs });
}

/** The whole file's text, for a history small enough to hold as one string. */
export function historyToJsonLines(history: SavedHistory): string {
  return `${[...historyJsonLines(history)].join('\n')}\n`;
}

function lineError(lineNumber: number, message: string): Outcome<never> {
  return failure(falconError('INVALID_ARGUMENT', `drill history line ${lineNumber}: ${message}`, { line: lineNumber }));
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(line)'}: ${issue.message}`).join('; ');
}

function parseLine(text: string, lineNumber: number): Outcome<unknown> {
  try {
    return success(JSON.parse(text) as unknown);
  } catch (error) {
    return lineError(lineNumber, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * Reads a history line by line (a long drill's file is read as a stream): `read` each line in
 * order, then `finish`. The first bad line ends the reading: `read` answers its error, and so does
 * `finish`. Blank lines are skipped.
 */
export class HistoryLinesReader {
  private lineNumber = 0;
  private seed: number | string | null = null;
  private readonly records: HistoryRecord[] = [];
  private final: DrillFinalState | null = null;
  private error: Outcome<never> | null = null;

  read(lineText: string): Outcome<null> {
    if (this.error !== null) return this.error;
    this.lineNumber += 1;
    const read = this.readLine(lineText.trim(), this.lineNumber);
    if (!read.ok) this.error = read;
    return read;
  }

  finish(): Outcome<SavedHistory> {
    if (this.error !== null) return this.error;
    if (this.seed === null) return lineError(1, `empty: not a ${historyFormat} file`);
    return success({ seed: this.seed, records: this.records, final: this.final });
  }

  private readLine(lineText: string, lineNumber: number): Outcome<null> {
    if (lineText === '' && this.seed !== null) return success(null);
    const parsed = parseLine(lineText, lineNumber);
    if (!parsed.ok) return parsed;
    if (this.seed === null) {
      const header = headerSchema.safeParse(parsed.value);
      if (!header.success) return lineError(lineNumber, `not a ${historyFormat} version ${historyVersion} header: ${issuesText(header.error)}`);
      this.seed = header.data.seed;
      return success(null);
    }
    const kind = (parsed.value as { kind?: unknown } | null)?.kind;
    if (kind === 'final') {
      const finalParsed = finalSchema.safeParse(parsed.value);
      if (!finalParsed.success) return lineError(lineNumber, issuesText(finalParsed.error));
      this.final = { jobs: finalParsed.data.jobs };
      return success(null);
    }
    const schema = typeof kind === 'string' && Object.hasOwn(recordSchemas, kind) ? recordSchemas[kind as keyof typeof recordSchemas] : undefined;
    if (schema === undefined) return lineError(lineNumber, `unknown record kind ${JSON.stringify(kind)}`);
    const recordParsed = schema.safeParse(parsed.value);
    if (!recordParsed.success) return lineError(lineNumber, issuesText(recordParsed.error));
    const record: HistoryRecord = recordParsed.data;
    this.records.push(record);
    return success(null);
  }
}

/** Reads a whole file's text written by `historyToJsonLines`. */
export function historyFromJsonLines(text: string): Outcome<SavedHistory> {
  const reader = new HistoryLinesReader();
  for (const line of text.split('\n')) if (!reader.read(line).ok) break;
  return reader.finish();
}
