/**
 * Runs a connection's read filters in order (Envoy's Network::FilterManagerImpl, read side).
 * A filter returning StopIteration from onNewConnection holds back the filters after it
 * until it calls continueReading(); data goes to filters in order until one stops.
 */
import { FilterStatus, type FilterManager, type ReadFilter, type ReadFilterCallbacks } from '../../api/network-filter.js';
import type { ConnectionImpl } from './connection-impl.js';

export class FilterManagerImpl implements FilterManager {
  readonly #connection: ConnectionImpl;
  readonly #filters: ReadFilter[] = [];
  /** Index of the first filter not yet given onNewConnection. */
  #initialized = 0;

  constructor(connection: ConnectionImpl) {
    this.#connection = connection;
  }

  addReadFilter(filter: ReadFilter): void {
    const index = this.#filters.length;
    this.#filters.push(filter);
    const callbacks: ReadFilterCallbacks = {
      connection: this.#connection,
      continueReading: () => this.#startFrom(index + 1),
    };
    filter.initializeReadFilterCallbacks(callbacks);
  }

  /** Starts the chain; returns false when there are no filters (the connection is closed). */
  initialize(): boolean {
    if (this.#filters.length === 0) return false;
    this.#connection.setReadHandler(this.#onData);
    this.#startFrom(0);
    return true;
  }

  #startFrom(index: number): void {
    for (let i = Math.max(index, this.#initialized); i < this.#filters.length; i++) {
      this.#initialized = i + 1;
      if (this.#filters[i]!.onNewConnection() === FilterStatus.StopIteration) return;
    }
  }

  #onData = (data: Buffer, endStream: boolean): void => {
    const filters = this.#filters;
    for (let i = 0; i < filters.length; i++) {
      if (filters[i]!.onData(data, endStream) === FilterStatus.StopIteration) return;
    }
  };
}
