/**
 * The sealed processor's HPKE suite (RFC 9180): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-256-GCM, base mode — the one suite named in schemas/spool.ts.
 *
 * Owns: constructing the @hpke/core suite on Web Crypto. Never: touches key material.
 */
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';

/** A fresh suite object (cheap; holds no keys). */
export function createSpoolSuite(): CipherSuite {
  return new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
}
