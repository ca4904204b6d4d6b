/**
 * The ring package's public surface: SPSC rings over SharedArrayBuffer (spsc-ring.ts for the
 * layout and wake-up protocol) and typed channels on top of them.
 *
 * Runs on: any thread.
 */
export {
  createRingBuffer,
  maxRecordBytesFor,
  readRingStats,
  RING_CAPACITY_BYTES_MAX,
  RING_CAPACITY_BYTES_MIN,
  type CreateRingOptions,
  type RingStats,
} from './spsc-ring.js';
export { RingProducer } from './ring-producer.js';
export { RingConsumer, type RecordHandler } from './ring-consumer.js';
export {
  RECEIVE_MESSAGES_PER_TURN_MAX,
  RingReceiver,
  RingSender,
  type RingReceiverOptions,
  type RingSenderOptions,
} from './ring-channel.js';
