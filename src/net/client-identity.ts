// Mutual TLS on the gateway: decides whether the certificate an edge presented on its link socket may open
// a link: signed by tlsClientCaFile (checked by TLS), named in the allow-list (when one is set), and not on
// the revocation list (SHA-256 fingerprints or serial numbers, one a line). Plain hypha clients are never asked.
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { AccelError } from '../errors.js';

export interface ClientPolicy {
  /** Identities (certificate CN or a DNS/URI/email subjectAltName) allowed to open links; empty = any the CA signed. */
  allow: string[];
  /** Normalised fingerprints (hex, no colons, upper case) and serial numbers that are refused. */
  revoked: Set<string>;
}

export type IdentityCheck = { ok: true; identity: string } | { ok: false; why: string };

const normalise = (value: string): string => value.replace(/[:\s]/g, '').toUpperCase().replace(/^0+(?=.)/, '');

/** Reads the revocation list: one SHA-256 fingerprint or serial number a line; `#` starts a comment. */
export function readRevoked(path: string): Set<string> {
  if (!path) return new Set();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AccelError('HYPHA_ACCEL_ERR_CONFIG', `invalid setting tlsClientRevokedFile: cannot read ${path}: ${(error as Error).message}`);
  }
  return new Set(text.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean).map(normalise));
}

export function parseAllowList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

/** The names a client certificate carries: its CN, then each DNS, URI and email subjectAltName. */
export function certificateNames(socket: TLSSocket): string[] {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return [];
  const cn = cert.subject?.CN;
  const names = (Array.isArray(cn) ? cn : cn ? [cn] : []) as string[];
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const match = /^\s*(DNS|URI|email):(.+)$/.exec(entry);
    if (match) names.push(match[2]!.trim());
  }
  return names;
}

export function checkClientIdentity(socket: TLSSocket, policy: ClientPolicy): IdentityCheck {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, why: 'no client certificate' };
  if (!socket.authorized) return { ok: false, why: `client certificate not trusted: ${String(socket.authorizationError)}` };
  if (policy.revoked.has(normalise(cert.fingerprint256)) || policy.revoked.has(normalise(cert.serialNumber))) {
    return { ok: false, why: `client certificate ${cert.serialNumber} is revoked` };
  }
  const names = certificateNames(socket);
  const identity = names[0] ?? cert.serialNumber;
  if (policy.allow.length > 0 && !names.some((name) => policy.allow.includes(name))) {
    return { ok: false, why: `client identity ${identity} is not in tlsClientAllow` };
  }
  return { ok: true, identity };
}
