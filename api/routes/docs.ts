/**
 * `GET /docs`: the interactive API reference — Redoc's standalone browser bundle (npm `redoc`)
 * rendering `/openapi.json`. The page is a few lines of static HTML with no inline script (Redoc
 * takes its settings from attributes of its `<redoc>` element); the bundle is served from here as
 * `/docs/redoc.<sha-256 prefix>.js`, cacheable for a year as immutable, gzip-compressed when the
 * client accepts it. The runtime adapter hands the bundle in (`DocsAssets`): without it every
 * `/docs` path answers 404 saying why.
 *
 * Content-Security-Policy of the page (measured with headless Chromium against this bundle):
 * scripts, fetches, fonts and images from this origin only — the bundle's attempts to load its
 * logo from a CDN and to send telemetry are refused, and telemetry is switched off as well;
 * `style-src 'unsafe-inline'` is unavoidable, since Redoc's styled-components insert `<style>`
 * elements at run time (with `style-src 'self'` the page renders nothing); `data:` fonts and
 * images are its inlined icon font and SVGs. `eval` stays forbidden: the only use, a search
 * worker, falls back to searching on the page.
 *
 * Owns: the page, the asset route and their headers. Never: references another origin, inlines
 * a script, or reads a file (the adapter does).
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import type { AppEnv } from '../middleware/context.ts';

/** What the runtime adapter reads from node_modules at startup (api/adapters/docs-assets.ts). */
export interface DocsAssets {
  /** Redoc's standalone bundle (`redoc/bundles/redoc.standalone.js`). */
  readonly scriptJs: string | Uint8Array;
}

export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const YEAR_SECONDS = 365 * 24 * 3600;

interface Prepared {
  readonly name: string;
  readonly raw: Uint8Array<ArrayBuffer>;
  readonly gzip: Uint8Array<ArrayBuffer>;
  readonly page: string;
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The hashed name, both encodings and the page, computed once on first use (Web Crypto and CompressionStream only). */
async function prepare(assets: DocsAssets): Promise<Prepared> {
  const raw = typeof assets.scriptJs === 'string' ? new TextEncoder().encode(assets.scriptJs) : new Uint8Array(assets.scriptJs);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  const hash = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const name = `redoc.${hash}.js`;
  const page = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>flowseal query API reference</title>',
    '</head>',
    '<body>',
    '<redoc spec-url="/openapi.json" disable-telemetry="true"></redoc>',
    `<script type="module" src="/docs/${name}"></script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return { name, raw, gzip: await gzip(raw), page };
}

const unavailable = () => new AppError(ErrorCode.NotFound, 'the API reference page is not available: this server was started without its assets (the document itself is at /openapi.json)');

/** Whether `Accept-Encoding` admits gzip (q > 0). */
function acceptsGzip(c: Context<AppEnv>): boolean {
  return (c.req.header('Accept-Encoding') ?? '').split(',').some((part) => {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    return (coding === 'gzip' || coding === '*') && !params.some((p) => /^q=0(\.0{0,3})?$/.test(p));
  });
}

/** Routes under `/docs`. Without `assets` every one answers 404 ERR_NOT_FOUND. */
export function docsRoutes(assets: DocsAssets | undefined): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let prepared: Promise<Prepared> | undefined;
  const ready = () => {
    if (assets === undefined) throw unavailable();
    prepared ??= prepare(assets);
    return prepared;
  };
  const page = async (c: Context<AppEnv>) => {
    const p = await ready();
    return c.body(p.page, 200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': DOCS_CONTENT_SECURITY_POLICY,
      'Cache-Control': 'no-cache',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
  };
  app.get('/', page);
  app.get('/:asset', async (c) => {
    const p = await ready();
    if (c.req.param('asset') !== p.name) throw new AppError(ErrorCode.NotFound, 'no such API reference asset (the page names the current one)');
    const zipped = acceptsGzip(c);
    const body = zipped ? p.gzip : p.raw;
    return c.body(body, 200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': `public, max-age=${YEAR_SECONDS}, immutable`,
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'same-origin',
      Vary: 'Accept-Encoding',
      ...(zipped ? { 'Content-Encoding': 'gzip' } : {}),
    });
  });
  return app;
}
