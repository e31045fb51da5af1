/** Default max frame payload size: 256 KiB. */
export const DEFAULT_MAX_FRAME_SIZE = 256 * 1024
/** Default max message size after reassembly: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
/** Default max nesting of arrays, maps, objects and extensions in a message. */
export const DEFAULT_MAX_DEPTH = 64
/** Bytes a fragment's header takes at most; each fragment carries `maxFrameSize - FRAGMENT_HEADER_MAX` bytes of its message (the last one fewer). */
export const FRAGMENT_HEADER_MAX = 16
