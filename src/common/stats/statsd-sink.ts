/**
 * Envoy's UDP statsd sinks (source/extensions/stat_sinks/common/statsd/statsd.cc):
 * `envoy.stat_sinks.statsd` and `envoy.stat_sinks.dog_statsd`.
 *
 * Lines (`<prefix>.<name>:<value>|<type>`):
 *   - counters: `|c` with the increase since the previous flush, for every counter ever used;
 *   - gauges: `|g` with the current value, for every gauge ever used;
 *   - histograms: `|ms` once per recorded value, sent by the process that records it (Envoy
 *     sends them from the worker thread); a percent histogram is `|h`. Courier's durations
 *     are fractional milliseconds: they are sent with up to three decimals where Envoy sends
 *     whole milliseconds.
 * DogStatsD names are tag-extracted, with the tags after the value: `|#tag:value,tag:value`.
 * The plain statsd sink sends full names and no tags.
 *
 * Datagrams: the statsd sink sends one line per datagram (Envoy's buffer size 0); DogStatsD
 * packs lines joined by '\n' up to max_bytes_per_datagram (a line that alone reaches the limit
 * goes on its own), or one per datagram when that is unset. Send errors are ignored, as in
 * Envoy: a sink must never stop the proxy.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { HistogramUnit } from '../../api/stats.js';
import type { StatsSinkConfig } from '../../config/stats-config.js';
import type { TagProducer } from './tag-extractor.js';
import { withoutFloatNoise } from './stats-select.js';

/** What a flush hands a sink: only used stats, as Envoy's MetricSnapshot does. */
export interface SinkSnapshot {
  counters: ReadonlyArray<{ name: string; delta: number }>;
  gauges: ReadonlyArray<{ name: string; value: number }>;
}

export class UdpStatsdSink {
  readonly #socket: dgram.Socket;
  readonly #config: StatsSinkConfig;
  readonly #tags: TagProducer | undefined;
  /** `<prefix>.<name>` (and the tag suffix) per stat name, computed once. */
  readonly #heads = new Map<string, { head: string; tags: string }>();

  /** `tags` is required for dog_statsd (it names stats by their tag-extracted names). */
  constructor(config: StatsSinkConfig, tags: TagProducer | undefined) {
    this.#config = config;
    this.#tags = config.kind === 'dog_statsd' ? tags : undefined;
    this.#socket = dgram.createSocket(isIPv6(config.host) ? 'udp6' : 'udp4');
    this.#socket.on('error', () => {});
    this.#socket.unref();
  }

  flush(snapshot: SinkSnapshot): void {
    const lines: string[] = [];
    for (const c of snapshot.counters) lines.push(this.#line(c.name, String(c.delta), 'c'));
    for (const g of snapshot.gauges) lines.push(this.#line(g.name, String(g.value), 'g'));
    this.#send(lines);
  }

  /** One recorded histogram value (called where it was recorded: a worker or main). */
  histogramSample(name: string, unit: HistogramUnit, value: number): void {
    const formatted = String(withoutFloatNoise(Number(value.toFixed(3))));
    this.#write(this.#line(name, formatted, unit === 'percent' ? 'h' : 'ms'));
  }

  close(): void {
    this.#socket.close();
  }

  #line(name: string, value: string, type: string): string {
    let h = this.#heads.get(name);
    if (h === undefined) {
      const extracted = this.#tags?.produce(name);
      const tags = extracted && extracted.tags.length > 0 ? `|#${extracted.tags.map(([k, v]) => `${k}:${v}`).join(',')}` : '';
      h = { head: `${this.#config.prefix}.${extracted?.name ?? name}:`, tags };
      this.#heads.set(name, h);
    }
    return `${h.head}${value}|${type}${h.tags}`;
  }

  /** Envoy's writeBuffer/flushBuffer: pack lines up to the datagram size. */
  #send(lines: readonly string[]): void {
    const limit = this.#config.maxBytesPerDatagram;
    let buffer = '';
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (bytes >= limit) {
        this.#write(line);
        continue;
      }
      const buffered = Buffer.byteLength(buffer);
      if (buffered + bytes + 1 > limit) {
        if (buffered > 0) this.#write(buffer);
        buffer = line;
      } else {
        buffer = buffered > 0 ? `${buffer}\n${line}` : line;
      }
    }
    if (buffer !== '') this.#write(buffer);
  }

  #write(datagram: string): void {
    this.#socket.send(datagram, this.#config.port, this.#config.host);
  }
}
