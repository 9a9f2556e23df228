/**
 * What Dubbo route matching reads from a request. Implemented over the lazily decoded frame
 * (src/extensions/codecs/dubbo), so a route that only checks the interface never decodes the
 * attachments, and an argument is decoded only when a params_match names its index.
 */
export interface DubboRequestView {
  /** The service path / interface, e.g. org.apache.dubbo.demo.DemoService. */
  readonly serviceName: string;
  /** The service version from the body ('' when absent). */
  readonly serviceVersion: string;
  /** The `group` attachment, or undefined. */
  readonly serviceGroup: string | undefined;
  readonly methodName: string;
  /** Argument `index` converted to a string (numbers in base 10), or undefined if absent or not a scalar. */
  argumentAsString(index: number): string | undefined;
  /** An attachment (Envoy's header matchers run over attachments). */
  attachment(key: string): string | undefined;
}
