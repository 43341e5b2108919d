// Cross-setting checks of link security: a plain-text link (tcp://, ws://) may only go to a loopback address
// unless allowInsecureLink says otherwise (a unix:// link never leaves the host); TLS files come in pairs; mutual TLS needs a TLS listener.
import { isIP } from 'node:net';

/** The link schemes that run over TLS. */
export const TLS_LINK_SCHEMES = new Set(['tls:', 'tcps:', 'wss:']);

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and the name localhost (never resolved: a name may point anywhere). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

/** The reason a configuration is refused, or undefined. */
export function linkSecurityProblem(config: Record<string, unknown>): string | undefined {
  if (typeof config.gatewayUrl === 'string') {
    const url = new URL(config.gatewayUrl);
    if (url.protocol === 'unix:' && url.pathname.length <= 1) return 'invalid setting gatewayUrl: unix:// needs the socket\'s absolute path, e.g. unix:///run/hypha-accel/link.sock';
    if (url.protocol !== 'unix:' && !TLS_LINK_SCHEMES.has(url.protocol) && !isLoopbackHost(url.hostname) && config.allowInsecureLink !== true) {
      return `invalid setting gatewayUrl: ${url.protocol}// is plain text and ${url.hostname} is not a loopback address; use tls:// or wss:// (see docs/security.md), or set allowInsecureLink to accept an unencrypted link`;
    }
    if (Boolean(config.tlsClientCertFile) !== Boolean(config.tlsClientKeyFile)) return 'invalid setting tlsClientCertFile: tlsClientCertFile and tlsClientKeyFile go together';
  }
  if ('tlsCertFile' in config) {
    if (Boolean(config.tlsCertFile) !== Boolean(config.tlsKeyFile)) return 'invalid setting tlsCertFile: tlsCertFile and tlsKeyFile go together';
    if (config.tlsClientCaFile && !config.tlsCertFile) return 'invalid setting tlsClientCaFile: mutual TLS needs tlsCertFile and tlsKeyFile';
  }
  return undefined;
}
