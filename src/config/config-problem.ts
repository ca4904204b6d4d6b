/**
 * A problem found in a parsed configuration, before it is placed on a line and thrown, and the
 * translation of zod's issues into such problems.
 *
 * Leaf fields write their own messages (see cluster-config.ts); what is written here is the
 * message for a stray key, which needs the list of keys the section does know, and the keys it
 * used to know (renamed-keys.ts): an old name is refused with its new one.
 *
 * Runs on: supervisor (main thread) at start-up, and the CLIs. Pure, no I/O.
 */

import type { z } from 'zod';
import { tokenEntryShape } from './auth-config.js';
import { sectionShapes } from './cluster-config.js';
import { listenShape } from './listen-addresses.js';
import { formatFieldPath } from './describe-value.js';
import { nearestKey } from './nearest-key.js';
import { renamesAt } from './renamed-keys.js';

export interface ConfigProblem {
  /** The field to blame, as a path into the file. */
  readonly path: readonly PropertyKey[];
  /** What is wrong, one line, without the location. */
  readonly problem: string;
  /** For a rule between two fields: the other one, to point at when `path` is not in the file. */
  readonly relatedPath?: readonly PropertyKey[];
}

/** The keys a mapping at `path` may have, for the message about a key it may not. */
export type KnownKeysAt = (path: readonly PropertyKey[]) => readonly string[];

/** The keys of cluster.yaml, level by level. */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  // A node's own handlers (`nodes[1].handlers.email`) take the same keys as the cluster-wide ones.
  if (path[0] === 'nodes' && path[2] === 'handlers') return Object.keys(sectionShapes.handlers);
  if (path[0] === 'nodes' && path[2] === 'listen') return Object.keys(listenShape);
  if (path[0] === 'auth' && path[1] === 'tokens') return Object.keys(tokenEntryShape);
  const sectionName = path[0];
  if (sectionName === undefined) return Object.keys(sectionShapes);
  if (typeof sectionName === 'string' && Object.hasOwn(sectionShapes, sectionName)) {
    return Object.keys(sectionShapes[sectionName as keyof typeof sectionShapes]);
  }
  return [];
}

function placeName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'the top level';
  if (path.length === 1) return `section '${formatFieldPath(path)}'`;
  return formatFieldPath(path);
}

export function unknownKeyProblem(path: readonly PropertyKey[], key: string, keysAt: KnownKeysAt = knownKeysAt): ConfigProblem {
  const renames = renamesAt(path);
  const newKey = Object.hasOwn(renames, key) ? renames[key] : undefined;
  if (newKey !== undefined) {
    return { path: [...path, key], problem: `was renamed: use ${formatFieldPath([...path, newKey])}` };
  }
  const knownKeys = keysAt(path);
  // A misspelt old name is pointed at the new name, never at the old one.
  const nearest = nearestKey(key, [...knownKeys, ...Object.keys(renames)]);
  const suggestion = nearest !== undefined && Object.hasOwn(renames, nearest) ? renames[nearest] : nearest;
  const hint = suggestion !== undefined
    ? `did you mean '${suggestion}'?`
    : `known keys: ${knownKeys.join(', ')}`;
  return { path: [...path, key], problem: `unknown key '${key}' in ${placeName(path)}; ${hint}` };
}

function isPathArray(value: unknown): value is PropertyKey[] {
  return Array.isArray(value) && value.every((part) => typeof part === 'string' || typeof part === 'number');
}

/** One problem per issue, one per stray key; `keysAt` knows the file's keys (cluster.yaml's by default). */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], keysAt: KnownKeysAt = knownKeysAt): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(unknownKeyProblem(issue.path, key, keysAt));
    } else if (issue.code === 'custom' && isPathArray(issue.params?.['relatedPath'])) {
      const relatedPath = issue.params['relatedPath'];
      // Both paths were declared relative to the object the rule sits on; zod has since prefixed
      // the issue's own path with where that object is, and the related path needs the same.
      const declaredPathLength = Number(issue.params['declaredPathLength'] ?? 1);
      const base = issue.path.slice(0, issue.path.length - declaredPathLength);
      problems.push({ path: issue.path, problem: issue.message, relatedPath: [...base, ...relatedPath] });
    } else {
      problems.push({ path: issue.path, problem: issue.message });
    }
  }
  return problems;
}

/** The wording for any issue a schema did not word itself; a safety net, not the normal path. */
export function fallbackIssueMessage(issue: { readonly code?: string }): string {
  return `invalid value (${issue.code ?? 'unknown rule'})`;
}
