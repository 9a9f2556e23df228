/**
 * The `server` response header: server_name and server_header_transformation, as Envoy's HCM
 * applies them to every response it encodes (proxied and local replies):
 * OVERWRITE (the default) sets it to server_name; APPEND_IF_ABSENT sets it only when the
 * upstream sent none; PASS_THROUGH never touches it (a local reply then has none).
 *
 * Courier's default server_name is "courier", where Envoy's is "envoy": the header names the
 * software that answered, and an operator reading a response (or a CVE scanner) should not be
 * told it is Envoy. `server_name: envoy` gives Envoy's header exactly.
 */
import type { HeaderList } from './header-list.js';

export type ServerHeaderTransformation = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
export const SERVER_HEADER_TRANSFORMATIONS: readonly ServerHeaderTransformation[] = ['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH'];

/** Courier's default server_name (see the file comment). */
export const DEFAULT_SERVER_NAME = 'courier';

export interface ServerHeaderConfig {
  readonly serverName: string;
  readonly transformation: ServerHeaderTransformation;
}

export function applyServerHeader(headers: HeaderList, config: ServerHeaderConfig): void {
  if (config.transformation === 'OVERWRITE') headers.set('server', config.serverName);
  else if (config.transformation === 'APPEND_IF_ABSENT' && !headers.has('server')) headers.append('server', config.serverName);
}

/** The fields a reply written outside any stream starts with ('date' first), as a flat list. */
export function serverFieldFor(config: ServerHeaderConfig): string[] {
  return config.transformation === 'PASS_THROUGH' ? [] : ['server', config.serverName];
}
