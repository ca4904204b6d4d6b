/**
 * Turns the text of cluster.yaml into plain data, and maps a field path back to its line.
 *
 * The text is parsed once into a `Document` (with a `LineCounter`), which keeps the source range
 * of every key and value: that is how a schema error on `nodes[1].peerPort` can name line 14.
 * Everything YAML itself objects to (syntax, duplicate keys, unknown tags, an empty file, a top
 * level that is not a mapping) is refused here with its line, before the schema sees anything.
 *
 * Invariants: a `LineCounter` serves exactly one parse (it accumulates lines across parses).
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from './config-error.js';
import { describeValue, formatFieldPath } from './describe-value.js';

/** Aliases expanded while converting to plain data; bounds the "billion laughs" blow-up. */
export const yamlAliasCountMax = 100;
/** Nesting followed when looking for duplicate keys; the schema is 3 levels deep, so anything
 *  deeper is refused by the schema anyway and need not be searched. */
export const yamlNestingDepthMax = 16;

export interface YamlSource {
  readonly sourceName: string;
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
}

export interface ParsedYaml {
  readonly source: YamlSource;
  /** The top-level mapping as plain data. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Where a field path points in the file: the line of the deepest part of the path that exists. */
export interface FieldLocation {
  readonly line: number | undefined;
  /** True when the whole path exists in the file (not a default, not a missing key). */
  readonly found: boolean;
}

function lineAt(lineCounter: LineCounter, offset: number): number {
  // linePos reports line 0 for offsets before the first newline it has seen.
  return Math.max(1, lineCounter.linePos(offset).line);
}

function lineOfNode(lineCounter: LineCounter, node: unknown): number | undefined {
  if (!isNode(node) || node.range === undefined || node.range === null) return undefined;
  return lineAt(lineCounter, node.range[0]);
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

export function locateField(source: YamlSource, path: readonly PropertyKey[]): FieldLocation {
  let node: unknown = source.document.contents;
  let line = lineOfNode(source.lineCounter, node);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment));
      if (pair === undefined) return { line, found: false };
      // The key's line, not the value's: a section's value starts on the line after its key.
      line = lineOfNode(source.lineCounter, pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) return { line, found: false };
      line = lineOfNode(source.lineCounter, item) ?? line;
      node = item;
    } else {
      return { line, found: false };
    }
  }
  return { line, found: true };
}

/** The message of a YAML error without its own "at line 3, column 5:" tail and source excerpt. */
function yamlProblem(message: string): string {
  const firstLine = message.split('\n', 1)[0] ?? message;
  return firstLine.replace(/ at line \d+, column \d+:?$/, '');
}

function refuseDuplicateKeys(source: YamlSource, node: Node | null, path: PropertyKey[], depth: number): void {
  if (node === null || depth > yamlNestingDepthMax) return;
  if (isMap(node)) {
    const seen = new Map<string, number | undefined>();
    for (const pair of node.items) {
      const key = keyText(pair.key);
      const line = lineOfNode(source.lineCounter, pair.key);
      if (seen.has(key)) {
        const firstLine = seen.get(key);
        const first = firstLine === undefined ? '' : ` (first at line ${firstLine})`;
        throw new ConfigError({
          source: source.sourceName, line, field: formatFieldPath([...path, key]),
          problem: `duplicate key '${key}'${first}; YAML would keep only one of them, so write it once`,
        });
      }
      seen.set(key, line);
      refuseDuplicateKeys(source, isNode(pair.value) ? pair.value : null, [...path, key], depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      refuseDuplicateKeys(source, isNode(item) ? item : null, [...path, index], depth + 1);
    });
  }
}

/** What a cluster file's top level must be, for the refusal of one that is not. */
const clusterTopLevel = "a mapping of sections with at least 'nodes' (see docs/configuration.md)";

function topLevelMapping(source: YamlSource, topLevel: string): Record<string, unknown> {
  const { document, lineCounter, sourceName } = source;
  const contents = document.contents;
  const expected = `expected ${topLevel}`;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    throw new ConfigError({ source: sourceName, problem: `the file is empty; ${expected}` });
  }
  const line = lineOfNode(lineCounter, contents);
  if (!isMap(contents)) {
    const shown = isSeq(contents) ? 'a list' : describeValue(isScalar(contents) ? contents.value : contents);
    throw new ConfigError({ source: sourceName, line, problem: `the top level is ${shown}; ${expected}` });
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: yamlAliasCountMax });
  } catch (error) {
    // toJS throws only for alias trouble (too many expansions, a cycle).
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError({ source: sourceName, problem: `YAML aliases could not be expanded: ${reason}` });
  }
  return data as Record<string, unknown>;
}

/** Parses the text, refusing anything YAML-level with its line; `topLevel` says what the file must hold. */
export function parseYaml(text: string, sourceName: string, topLevel = clusterTopLevel): ParsedYaml {
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are found by the walk below, which can name the key and its path.
  const document = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const source: YamlSource = { sourceName, document, lineCounter };
  // Warnings too (an unknown tag such as `!foo` would silently turn a value into a string).
  const firstError = document.errors[0] ?? document.warnings[0];
  if (firstError !== undefined) {
    throw new ConfigError({
      source: sourceName, line: lineAt(lineCounter, firstError.pos[0]),
      problem: `YAML syntax: ${yamlProblem(firstError.message)}`,
    });
  }
  refuseDuplicateKeys(source, document.contents, [], 0);
  return { source, data: topLevelMapping(source, topLevel) };
}
