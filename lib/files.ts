import { constants } from 'node:fs'

/**
 * The flags local files the relay reads (an upstream file, an intro, an htpasswd file) are opened with: not
 * blocking on open, as a FIFO with no writer would otherwise hold the open (and one of libuv's few pool
 * threads) forever, where a check of the opened file refuses anything but a regular file at once. No effect
 * on a regular file.
 */
export const READ_WITHOUT_BLOCKING = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)
