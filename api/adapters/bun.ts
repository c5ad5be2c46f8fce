/**
 * Bun runtime adapter (excluded from tsc): `bun api/adapters/bun.ts <archiveDir> [config]`.
 * Same wiring as Node (node:fs works on Bun); only the server differs. Never: adds app logic.
 */
import { buildAppFromFiles } from './node.ts';

declare const Bun: { serve(o: { hostname: string; port: number; fetch: (r: Request) => Response | Promise<Response> }): { url: URL } };
declare const process: { argv: string[] };

const [archiveDir, configPath] = process.argv.slice(2);
const { app, config } = await buildAppFromFiles({ archiveDir, configPath });
const server = Bun.serve({ hostname: config.host, port: config.port, fetch: app.fetch });
console.log(JSON.stringify({ level: 'info', message: 'flowseal API listening (bun)', url: String(server.url) }));
