import { MessageRegistry, Terminated, type ActorRef, type Behavior } from '@helios/actors'

/** Asks a topic to forward its publications to `subscriber`; the topic answers `'subscribed'`. */
export class Subscribe {
  constructor(readonly subscriber: ActorRef) {}
}

/** One publication on a topic. */
export class Publish {
  constructor(
    readonly seq: number,
    readonly text: string,
  ) {}
}

/** The messages that cross the wire, registered under the same manifests on every node. */
export function topicMessages(): MessageRegistry {
  return new MessageRegistry().register(Subscribe, 'example.Subscribe').register(Publish, 'example.Publish')
}

/**
 * A topic: forwards every {@link Publish} to its subscribers, wherever they live. It watches each
 * subscriber, so one that stops (or whose node goes away) is forgotten.
 */
export function topic(): Behavior {
  const subscribers = new Set<ActorRef>()
  return (message, ctx) => {
    if (message instanceof Subscribe) {
      subscribers.add(message.subscriber)
      ctx.watch(message.subscriber)
      ctx.sender?.tell('subscribed', ctx.self)
    } else if (message instanceof Publish) {
      for (const s of subscribers) s.tell(message, ctx.self)
    } else if (message instanceof Terminated) {
      subscribers.delete(message.ref)
    }
  }
}

/** A subscriber that prints what it reads and calls `onPublish` with it. */
export function reader(name: string, onPublish: (p: Publish) => void): Behavior {
  return (message) => {
    if (!(message instanceof Publish)) return
    console.log(`${name} read #${message.seq}: ${message.text}`)
    onPublish(message)
  }
}
