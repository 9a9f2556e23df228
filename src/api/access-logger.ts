import type { StreamInfo } from './stream-info.js';

/**
 * An access log sink on a worker. `log` is called once per finished stream, on the worker
 * that owned it, after the stream's last byte; it must not throw and must not block.
 * `close` flushes what is buffered; called on drain and on config replacement.
 */
export interface AccessLogger {
  log(info: StreamInfo): void;
  close(): Promise<void>;
  /** Reopen the file on the next write (log rotation: SIGUSR1, /reopen_logs); absent for streams. */
  reopen?(): void;
}
