/** How a registered class is written: own properties, positional fields, or custom toWire/fromWire. */
export const RegistrationKind = { properties: 0, fields: 1, custom: 2 } as const
export type RegistrationKind = (typeof RegistrationKind)[keyof typeof RegistrationKind]

/** One registered message class. */
export interface Registration {
  readonly manifest: string
  readonly proto: object
  readonly kind: RegistrationKind
  readonly fields: readonly string[]
  readonly toWire: ((value: object) => unknown) | undefined
  readonly fromWire: ((data: unknown) => object) | undefined
}
