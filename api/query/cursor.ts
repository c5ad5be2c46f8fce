/**
 * Pagination cursors for record listings: opaque, authenticated and bound to one query.
 *
 * A cursor is `base64url(iv ‖ AES-256-GCM(key, payload))` (WebCrypto; 96-bit random IV), the
 * payload the query's fingerprint, the resolved time range of the first page, the sort key of
 * the last row returned, and an expiry. Encrypted, so a cursor reveals nothing of the archive
 * (file names, row numbers); authenticated, so a client cannot move it. The fingerprint is a
 * SHA-256 over the plan minus its position, limit and time range, so a cursor only continues
 * the query it came from; later pages take the time range from the cursor (a relative range is
 * resolved once, at the first page).
 *
 * Keys: one per deployment (every replica must share it to honour each other's cursors: config
 * `cursorKey`, see schemas/api-config.ts); without one each process draws a random key, and
 * cursors survive neither a restart nor a switch of replica.
 *
 * Owns: the cursor format. Never: accepts a cursor that does not decrypt, has expired, or whose
 * fingerprint differs; says which of these it was (all are ERR_QUERY_CURSOR_INVALID).
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { QueryPlan } from './plan.ts';
import type { Cell } from '../ports.ts';

/** How long a cursor stays valid. */
export const CURSOR_TTL_MS = 24 * 3_600_000;

export interface CursorPosition {
  /** The fingerprint of the plan the cursor belongs to (compare with `planFingerprint`). */
  readonly fingerprint: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly after: readonly Cell[];
}

export interface CursorCodec {
  /** A cursor continuing `plan` after the row whose sort key is `after`. */
  encode(plan: QueryPlan, after: readonly Cell[], nowMs: number): Promise<string>;
  /** @throws AppError ERR_QUERY_CURSOR_INVALID */
  decode(cursor: string, nowMs: number): Promise<CursorPosition>;
}

/** @throws AppError ERR_QUERY_CURSOR_INVALID when `plan` is not the query `pos` belongs to. */
export async function assertCursorMatches(plan: QueryPlan, pos: CursorPosition): Promise<void> {
  if ((await planFingerprint(plan)) !== pos.fingerprint) throw bad();
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/** What a cursor binds: the plan without its position, limit and time range. */
export async function planFingerprint(plan: QueryPlan): Promise<string> {
  const { after: _a, limit: _l, fromMs: _f, toMs: _t, ...rest } = plan;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical(rest))));
  return b64url(digest.slice(0, 16));
}

function b64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromB64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const bin = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

const bad = (): AppError => new AppError(ErrorCode.QueryCursorInvalid, 'cursor is invalid, expired, or belongs to a different query; start again without cursor');

function isCell(v: unknown): v is Cell {
  return v === null || typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * A codec over a 32-byte key (`null`: a random key for this process).
 * @throws TypeError for a key of another length.
 */
export function createCursorCodec(keyBytes: Uint8Array | null): CursorCodec {
  const raw = new Uint8Array(32);
  if (keyBytes === null) crypto.getRandomValues(raw);
  else if (keyBytes.length !== 32) throw new TypeError('cursor key must be 32 bytes');
  else raw.set(keyBytes);
  let imported: Promise<CryptoKey> | null = null;
  const cryptoKey = (): Promise<CryptoKey> => (imported ??= crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
  return {
    async encode(plan, after, nowMs) {
      const key = await cryptoKey();
      const payload = JSON.stringify({ v: 1, f: await planFingerprint(plan), t: [plan.fromMs, plan.toMs], a: after, x: nowMs + CURSOR_TTL_MS });
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(payload)));
      const out = new Uint8Array(iv.length + sealed.length);
      out.set(iv);
      out.set(sealed, iv.length);
      return b64url(out);
    },
    async decode(cursor, nowMs) {
      const bytes = fromB64url(cursor);
      if (bytes === null || bytes.length < 12 + 16) throw bad();
      const key = await cryptoKey();
      let plain: Uint8Array;
      try {
        plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12) }, key, bytes.slice(12)));
      } catch {
        throw bad();
      }
      let p: unknown;
      try {
        p = JSON.parse(new TextDecoder().decode(plain));
      } catch {
        throw bad();
      }
      const o = p as { v?: unknown; f?: unknown; t?: unknown; a?: unknown; x?: unknown };
      if (o.v !== 1 || typeof o.x !== 'number' || o.x < nowMs) throw bad();
      if (typeof o.f !== 'string') throw bad();
      if (!Array.isArray(o.t) || o.t.length !== 2 || !o.t.every((n) => Number.isSafeInteger(n))) throw bad();
      if (!Array.isArray(o.a) || o.a.length > 16 || !o.a.every(isCell)) throw bad();
      return { fingerprint: o.f, fromMs: o.t[0] as number, toMs: o.t[1] as number, after: o.a };
    },
  };
}
