/**
 * Checks the messages of the registry links (registry.ts), one checker per receiving end. Shape
 * only, as wal-validation.ts; both ends are this program's threads, so a message that fails is a
 * bug on the other side and stops the receiving role.
 *
 * Runs on: Dispatcher, Registry and Replicator threads.
 */
import type { FalconError } from '../errors.js';
import { arrayOf, boolean, compile, positiveSafeInteger, safeInteger, text, type MessageChecks } from '../log/shape-check.js';
import { checkMessage } from './link-checks.js';
import type { ToDispatcherFromRegistry, ToRegistryFromDispatcher, ToRegistryFromReplicator, ToReplicatorFromRegistry } from './registry.js';

type TableOf<Message extends { type: string }> = { readonly [Type in Message['type']]: MessageChecks<Extract<Message, { type: Type }>> };

const toRegistryFields: TableOf<ToRegistryFromDispatcher | ToRegistryFromReplicator> = {
  beat: { request: positiveSafeInteger, workerId: text, load: safeInteger },
  unregister: { workerId: text },
  workers: { leading: boolean, term: safeInteger, workerIds: arrayOf(text) },
};
const toDispatcherFields: TableOf<ToDispatcherFromRegistry> = { beatAnswer: { request: positiveSafeInteger, registered: boolean } };
const toReplicatorFields: TableOf<ToReplicatorFromRegistry> = { releaseWorker: { workerId: text } };

const toRegistryChecks = compile(toRegistryFields);
const toDispatcherChecks = compile(toDispatcherFields);
const toReplicatorChecks = compile(toReplicatorFields);

/** What the Registry receives from the Dispatcher or the Replicator. */
export function checkToRegistry(value: unknown): ToRegistryFromDispatcher | ToRegistryFromReplicator | FalconError {
  return checkMessage<ToRegistryFromDispatcher | ToRegistryFromReplicator>(value, '→ Registry', toRegistryChecks);
}

export function checkRegistryToDispatcher(value: unknown): ToDispatcherFromRegistry | FalconError {
  return checkMessage<ToDispatcherFromRegistry>(value, 'Registry → Dispatcher', toDispatcherChecks);
}

export function checkRegistryToReplicator(value: unknown): ToReplicatorFromRegistry | FalconError {
  return checkMessage<ToReplicatorFromRegistry>(value, 'Registry → Replicator', toReplicatorChecks);
}
