import type { TransportKind } from '../BootstrapOptions.js'

/**
 * @internal What a client and a server bootstrap share: the transport kind and the options set
 * fluently. Options are merged as they are set; the subclass reads them when it connects or binds.
 */
export abstract class AbstractBootstrap<O extends object> {
  protected kind: TransportKind = 'tcp'
  protected readonly opts: { -readonly [K in keyof O]: O[K] } = {} as { -readonly [K in keyof O]: O[K] }

  /** Chooses TCP (default), TLS or UDP. */
  transport(kind: TransportKind): this { this.kind = kind; return this }

  /** Sets one option. */
  option<K extends keyof O>(key: K, value: O[K]): this {
    this.opts[key] = value
    return this
  }

  /** Sets several options (merged over those set before). */
  options(options: O): this {
    Object.assign(this.opts, options)
    return this
  }
}
