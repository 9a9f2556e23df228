/**
 * One client stream on the management server (SotW; ADS or a per-type service). Runs in the
 * xds-server process.
 *
 * Per type: the subscribed names (empty = wildcard for LDS/CDS, nothing for others), the last
 * version and nonce sent. A request is classified by the protocol's rules: no response_nonce
 * → initial request; error_detail present → NACK; otherwise ACK (error_detail presence, not
 * version, tells a NACK: envoyproxy/envoy#14841). A request with a nonce other than the last
 * one sent for its type is stale: logged, not answered. The server answers an initial request,
 * and any request that changes the names, with the current resources; a store change is
 * pushed to every stream subscribed to that type. A named subscription none of whose names
 * exist gets no response (the client's initial_fetch_timeout covers it). After a NACK the
 * same version is not sent again.
 */
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../discovery-service.js';
import { resourceTypeFor, type XdsResourceType } from '../resource-type.js';
import type { ResourceStore } from './resource-store.js';

export type XdsRequestKind = 'request' | 'ack' | 'nack' | 'stale';

/** One request as the server saw it (also emitted as an event). */
export interface XdsRequestEvent {
  readonly kind: XdsRequestKind;
  readonly streamId: number;
  /** node.id from the stream's first request. */
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly responseNonce: string;
  readonly resourceNames: readonly string[];
  /** Present on a NACK. */
  readonly errorDetail?: { readonly code: number; readonly message: string } | undefined;
}

/** One response the server sent. */
export interface XdsResponseEvent {
  readonly streamId: number;
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resourceNames: readonly string[];
}

export interface SotwStreamHooks {
  onRequest(e: XdsRequestEvent): void;
  onResponse(e: XdsResponseEvent): void;
  /** One log line (no newline). */
  log(line: string): void;
}

interface TypeSub {
  readonly typeUrl: string;
  readonly type: XdsResourceType | undefined;
  names: readonly string[];
  lastSentVersion: string | undefined;
  lastNonce: string;
}

export const CONTROL_PLANE_IDENTIFIER = 'courier-xds-server';

export class SotwStream {
  readonly id: number;
  #nodeId = '';
  #nonce = 0;
  readonly #subs = new Map<string, TypeSub>();
  #closed = false;
  readonly #unsubscribe: () => void;

  constructor(
    id: number,
    private readonly call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
    private readonly store: ResourceStore,
    private readonly hooks: SotwStreamHooks,
    /** Set for a per-type service (StreamRoutes...): requests without type_url mean it. */
    private readonly fixedType?: XdsResourceType,
  ) {
    this.id = id;
    this.#unsubscribe = store.onChange((typeUrl) => this.#push(typeUrl));
    call.on('data', (req: DiscoveryRequest) => this.#onRequest(req));
    call.on('end', () => {
      this.close();
      call.end();
    });
    call.on('error', () => this.close());
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
  }

  /** Stops pushing to this stream (it ended or the server stops). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
  }

  #onRequest(req: DiscoveryRequest): void {
    if (this.#closed) return;
    const nodeId = req.node?.['id'];
    if (typeof nodeId === 'string' && nodeId !== '') this.#nodeId = nodeId;
    const typeUrl = req.type_url || this.fixedType?.typeUrl || '';
    if (this.fixedType && typeUrl !== this.fixedType.typeUrl) {
      this.hooks.log(`stream ${this.id} node=${this.#nodeId}: type_url "${typeUrl}" on the ${this.fixedType.shortName} service; ignored`);
      return;
    }
    const type = resourceTypeFor(typeUrl);
    let sub = this.#subs.get(typeUrl);
    const nonce = req.response_nonce ?? '';
    const names = [...(req.resource_names ?? [])].sort();
    const stale = nonce !== '' && (!sub || nonce !== sub.lastNonce);
    const kind: XdsRequestKind = stale ? 'stale' : nonce === '' ? 'request' : req.error_detail ? 'nack' : 'ack';
    const event: XdsRequestEvent = {
      kind,
      streamId: this.id,
      nodeId: this.#nodeId,
      typeUrl,
      versionInfo: req.version_info ?? '',
      responseNonce: nonce,
      resourceNames: names,
      errorDetail: req.error_detail ? { code: req.error_detail.code ?? 0, message: req.error_detail.message ?? '' } : undefined,
    };
    this.hooks.log(formatRequest(event, type));
    this.hooks.onRequest(event);
    if (stale) return;
    if (!sub) {
      sub = { typeUrl, type, names, lastSentVersion: undefined, lastNonce: '' };
      this.#subs.set(typeUrl, sub);
    }
    const namesChanged = sub.names.join('\0') !== names.join('\0');
    sub.names = names;
    if (kind === 'request' || namesChanged) this.#send(sub, true);
  }

  #push(typeUrl: string): void {
    if (this.#closed) return;
    const sub = this.#subs.get(typeUrl);
    if (sub) this.#send(sub, false);
  }

  #wildcard(sub: TypeSub): boolean {
    return sub.names.length === 0 && (sub.type ? sub.type.allResourcesRequiredInSotW : true);
  }

  #send(sub: TypeSub, force: boolean): void {
    const snapshot = this.store.get(sub.typeUrl);
    const version = snapshot?.version ?? '';
    if (!force && sub.lastSentVersion === version) return;
    const all = snapshot ? [...snapshot.resources.values()] : [];
    const chosen = this.#wildcard(sub) ? all : all.filter((r) => sub.names.includes(r.name));
    if (!this.#wildcard(sub) && chosen.length === 0) return;
    // Wildcard types with nothing yet: an empty response still tells the client "no resources".
    if (this.#wildcard(sub) && !snapshot) return;
    const nonce = String(++this.#nonce);
    sub.lastNonce = nonce;
    sub.lastSentVersion = version;
    const res: DiscoveryResponse = {
      version_info: version,
      resources: chosen.map((r) => r.any),
      type_url: sub.typeUrl,
      nonce,
      control_plane: { identifier: CONTROL_PLANE_IDENTIFIER },
    };
    const event: XdsResponseEvent = {
      streamId: this.id,
      nodeId: this.#nodeId,
      typeUrl: sub.typeUrl,
      versionInfo: version,
      nonce,
      resourceNames: chosen.map((r) => r.name),
    };
    this.hooks.log(
      `stream ${this.id} node=${this.#nodeId} ${shortName(sub.typeUrl, sub.type)} response version="${version}" nonce="${nonce}" resources=[${event.resourceNames.join(',')}]`,
    );
    this.hooks.onResponse(event);
    this.call.write(res);
  }
}

function shortName(typeUrl: string, type: XdsResourceType | undefined): string {
  return type?.shortName ?? typeUrl;
}

function formatRequest(e: XdsRequestEvent, type: XdsResourceType | undefined): string {
  const head = `stream ${e.streamId} node=${e.nodeId} ${shortName(e.typeUrl, type)} ${e.kind.toUpperCase()}`;
  const body = `version="${e.versionInfo}" nonce="${e.responseNonce}" names=[${e.resourceNames.join(',')}]`;
  const err = e.errorDetail ? ` error_detail={code: ${e.errorDetail.code}, message: ${JSON.stringify(e.errorDetail.message)}}` : '';
  return `${head} ${body}${err}`;
}
