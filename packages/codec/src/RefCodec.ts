/**
 * The hook through which actor refs inside messages cross the wire. @helios/actors supplies it:
 * a ref found at any depth of a message is written as its path (extension type `0x52`), and a
 * path received is turned back into a (remote) ref.
 *
 * @example
 * const refCodec: RefCodec = {
 *   isRef: (v) => v instanceof ActorRef,
 *   toPath: (ref) => (ref as ActorRef).path.toSerializationFormat(),
 *   fromPath: (path) => system.resolveActorRef(path),
 * };
 */
export interface RefCodec {
  /** Whether `value` is an actor ref (called for every non-plain object in an outgoing message). */
  isRef(value: unknown): boolean
  /** The full path of a ref, with address and uid, e.g. `helios.tcp://sys@host:2552/user/a#42`. */
  toPath(ref: unknown): string
  /** Rebuilds a ref from a path received; may throw (it becomes a {@link MessageDecodeError}). */
  fromPath(path: string): unknown
}
