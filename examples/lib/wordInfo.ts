import type { ChannelHandler, ChannelHandlerContext } from '@helios/transport'

/** Looks a word up somewhere slow (a database, a service): here, a timer. */
export async function lookUp(word: string): Promise<{ letters: number; vowels: number }> {
  await new Promise((resolve) => setTimeout(resolve, 5))
  return { letters: word.length, vowels: (word.match(/[aeiou]/gi) ?? []).length }
}

/**
 * A custom handler with an async step: for each line it reads, it awaits a lookup and writes one
 * line back. Returning the promise from `channelRead` is all it takes: the pipeline holds the next
 * lines until this one is answered (concurrency 1, so replies keep the order of the requests) and
 * stops reading from the socket while it waits.
 */
export class WordInfoHandler implements ChannelHandler {
  async channelRead(ctx: ChannelHandlerContext, message: unknown): Promise<void> {
    const word = Buffer.from(message as Uint8Array)
      .toString('utf8')
      .trim()
    if (word === '') return
    const info = await lookUp(word)
    ctx.writeAndFlush(Buffer.from(`${word}: ${info.letters} letters, ${info.vowels} vowels\n`))
  }

  exceptionCaught(ctx: ChannelHandlerContext, error: Error): void {
    console.error('closing a connection:', error.message)
    void ctx.close()
  }
}
