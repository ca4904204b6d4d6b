/**
 * How a ring link checks its messages: a table of message types, each with the checks of its
 * fields, compiled once by src/log/shape-check.ts's `compile` into one map check per type, and the
 * one function that picks a message's check by its `type` and names what is wrong.
 *
 * Both ends of a ring are this node's own threads, so a message that fails is a bug on the other
 * side: the answer is an INTERNAL error naming the direction, the type and the field.
 *
 * Runs on: every actor thread and the supervisor (pure).
 */
import { falconError, type FalconError } from '../errors.js';
import { asChecked, isMap, type CompiledTable } from '../log/shape-check.js';

/**
 * `value` as a message of `table` (its `type` picks its fields), or INTERNAL naming the direction,
 * the type and the field. The one cast from `unknown` of a link: every field `Message` declares
 * for that type was checked by the table, which the caller types per field.
 */
export function checkMessage<Message>(value: unknown, direction: string, table: CompiledTable): Message | FalconError {
  if (!isMap(value)) return falconError('INTERNAL', `malformed ${direction} message: it is not a map`);
  const type = value['type'];
  const checkFields = typeof type === 'string' ? table.get(type) : undefined;
  if (checkFields === undefined) return falconError('INTERNAL', `malformed ${direction} message: type ${String(type)} is not a ${direction} message type`);
  const problem = checkFields(value);
  if (problem !== undefined) return falconError('INTERNAL', `malformed ${direction} message: ${type}${problem}`);
  return asChecked<Message>(value);
}
