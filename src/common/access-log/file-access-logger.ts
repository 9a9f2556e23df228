/**
 * envoy.access_loggers.file: appends formatted lines to a file.
 *
 * Lines are buffered in memory and written by one asynchronous write at a time, at most
 * `flushIntervalMs` after the first unwritten line (Envoy's file_flush_interval, 1 s) or as
 * soon as `flushBytes` (64 KiB) have accumulated. `close()` writes what is left and closes.
 *
 * Nothing here throws on the data plane: a failed open or write is printed once via
 * console.error and counted (`writeErrors`); the lines it concerned are counted as dropped.
 * If the sink cannot keep up, lines beyond `maxBufferedBytes` are dropped and counted.
 */

import { open, type FileHandle } from 'node:fs/promises';
import type { AccessLogger } from '../../api/access-logger.js';
import type { StreamInfo } from '../../api/stream-info.js';
import type { Formatter } from './substitution-format.js';

export interface BufferedLogOptions {
  /** Longest a line waits in memory before it is written. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Write at once when this many bytes (UTF-16 units, near enough) are buffered. Default 64 KiB. */
  flushBytes?: number;
  /** Drop (and count) lines while this much is waiting to be written. Default 16 MiB. */
  maxBufferedBytes?: number;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 1000;
export const DEFAULT_FLUSH_BYTES = 64 * 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Where buffered text goes. `write` rejects on failure; it is never called concurrently. */
export interface LogSinkBackend {
  /** Human name for messages, e.g. the path. */
  readonly name: string;
  write(data: string): Promise<void>;
  close(): Promise<void>;
  /** Reopen on the next write (log rotation); no-op for streams. */
  reopen(): void;
}

/** Appends to a file opened with flags 'a'. Opens eagerly; retries a failed open on the next write. */
export class FileBackend implements LogSinkBackend {
  readonly name: string;
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private reopenWanted = false;

  constructor(readonly path: string) {
    this.name = path;
    // Open now so the file exists (and a bad path shows) before the first line; the error,
    // if any, is reported by the first write that needs the file.
    this.opening = open(path, 'a');
    this.opening.catch(() => undefined);
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.reopenWanted) {
      this.reopenWanted = false;
      const old = this.handle ?? (await this.opening?.catch(() => undefined));
      this.handle = undefined;
      this.opening = undefined;
      await old?.close().catch(() => undefined);
    }
    if (this.handle) return this.handle;
    if (!this.opening) this.opening = open(this.path, 'a');
    try {
      this.handle = await this.opening;
      return this.handle;
    } finally {
      this.opening = undefined;
    }
  }

  async write(data: string): Promise<void> {
    const fh = await this.ensureOpen();
    const buf = Buffer.from(data, 'utf8');
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
      off += bytesWritten;
    }
  }

  reopen(): void {
    this.reopenWanted = true;
  }

  async close(): Promise<void> {
    const fh = this.handle ?? (await this.opening?.catch(() => undefined));
    this.handle = undefined;
    this.opening = undefined;
    await fh?.close().catch(() => undefined);
  }
}

/**
 * One no-op 'error' listener per process stream while any logger uses it, so an EPIPE on
 * stdout reaches the write callback (and is counted) instead of crashing the process.
 */
const streamUsers = new Map<NodeJS.WriteStream, number>();
const ignoreStreamError = (): void => {};

/** Writes to process.stdout / process.stderr (never closes them). */
export class StreamBackend implements LogSinkBackend {
  private released = false;
  constructor(readonly name: string, private readonly stream: NodeJS.WriteStream) {
    const n = streamUsers.get(stream) ?? 0;
    if (n === 0) stream.on('error', ignoreStreamError);
    streamUsers.set(stream, n + 1);
  }

  write(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = this.stream;
      if (s.destroyed || !s.writable) {
        reject(new Error(`${this.name} is closed`));
        return;
      }
      try {
        s.write(data, (err) => (err ? reject(err) : resolve()));
      } catch (e) {
        reject(e as Error);
      }
    });
  }

  reopen(): void {}

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const n = (streamUsers.get(this.stream) ?? 1) - 1;
    if (n <= 0) {
      streamUsers.delete(this.stream);
      this.stream.off('error', ignoreStreamError);
    } else {
      streamUsers.set(this.stream, n);
    }
  }
}

/** The backend for an access log path: /dev/stdout and /dev/stderr map to the process streams. */
export function backendForPath(path: string): LogSinkBackend {
  if (path === '/dev/stdout') return new StreamBackend(path, process.stdout);
  if (path === '/dev/stderr') return new StreamBackend(path, process.stderr);
  return new FileBackend(path);
}

/** Buffers lines and hands them to a backend, one write at a time. Never throws from append. */
export class BufferedLogWriter {
  private chunks: string[] = [];
  private bytes = 0;
  private lines = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private flushWanted = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private reported = false;
  private _writeErrors = 0;
  private _droppedLines = 0;
  private _writtenLines = 0;
  private readonly flushIntervalMs: number;
  private readonly flushBytes: number;
  private readonly maxBufferedBytes: number;

  constructor(private readonly backend: LogSinkBackend, options: BufferedLogOptions = {}) {
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.flushBytes = options.flushBytes ?? DEFAULT_FLUSH_BYTES;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  /** Failed opens/writes so far (the first one was printed). */
  get writeErrors(): number {
    return this._writeErrors;
  }
  /** Lines lost: failed writes, buffer overflow, or logged after close. */
  get droppedLines(): number {
    return this._droppedLines;
  }
  /** Lines handed to the backend successfully. */
  get writtenLines(): number {
    return this._writtenLines;
  }

  append(line: string): void {
    if (this.closed || this.bytes + line.length > this.maxBufferedBytes) {
      this._droppedLines++;
      return;
    }
    this.chunks.push(line);
    this.bytes += line.length;
    this.lines++;
    if (this.bytes >= this.flushBytes) {
      this.flushWanted = true;
      this.pump();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flushWanted = true;
    this.pump();
  };

  /** Starts one write of everything buffered, unless one is already under way. */
  private pump(): void {
    if (this.inflight !== undefined || this.chunks.length === 0) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.flushWanted = false;
    const data = this.chunks.length === 1 ? this.chunks[0]! : this.chunks.join('');
    const lines = this.lines;
    this.chunks = [];
    this.bytes = 0;
    this.lines = 0;
    let p: Promise<void>;
    try {
      p = this.backend.write(data);
    } catch (e) {
      p = Promise.reject(e);
    }
    this.inflight = p.then(
      () => {
        this._writtenLines += lines;
      },
      (err: unknown) => {
        this._droppedLines += lines;
        this.reportError(err);
      },
    ).finally(() => {
      this.inflight = undefined;
      if (this.chunks.length === 0) return;
      if (this.flushWanted || this.closed || this.bytes >= this.flushBytes) this.pump();
      else if (this.timer === undefined) {
        this.timer = setTimeout(this.onTimer, this.flushIntervalMs);
        this.timer.unref();
      }
    });
  }

  private reportError(err: unknown): void {
    this._writeErrors++;
    if (this.reported) return;
    this.reported = true;
    const msg = err instanceof Error ? err.message : String(err);
    try {
      console.error(`courier: access log ${this.backend.name}: write failed: ${msg} (further failures are only counted)`);
    } catch {
      // stderr itself may be gone; nothing more to do.
    }
  }

  /** Writes everything buffered now; resolves when written (or failed and counted). */
  async flush(): Promise<void> {
    while (this.inflight !== undefined || this.chunks.length > 0) {
      this.flushWanted = true;
      this.pump();
      await this.inflight;
    }
  }

  /** Reopens the file before the next write (log rotation). */
  reopen(): void {
    this.backend.reopen();
  }

  /** Flushes, then closes the backend. Later appends are dropped. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.closing = this.flush().then(() => this.backend.close().catch((e: unknown) => this.reportError(e)));
    return this.closing;
  }
}

/** An access logger writing each formatted line to a path (/dev/stdout and /dev/stderr too). */
export class FileAccessLogger implements AccessLogger {
  protected readonly writer: BufferedLogWriter;
  private formatErrors = 0;

  constructor(readonly path: string, private readonly formatter: Formatter, options: BufferedLogOptions = {}) {
    this.writer = new BufferedLogWriter(backendForPath(path), options);
  }

  log(info: StreamInfo): void {
    let line: string;
    try {
      line = this.formatter.format(info);
    } catch (e) {
      // Operators do not throw; this guards the data plane against a bug all the same.
      if (this.formatErrors++ === 0) console.error(`courier: access log ${this.path}: format failed: ${String(e)}`);
      return;
    }
    this.writer.append(line);
  }

  /** Writes what is buffered now. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Reopens the file before the next write (after log rotation). */
  reopen(): void {
    this.writer.reopen();
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  get writeErrors(): number {
    return this.writer.writeErrors;
  }
  get droppedLines(): number {
    return this.writer.droppedLines;
  }
  get writtenLines(): number {
    return this.writer.writtenLines;
  }
}
