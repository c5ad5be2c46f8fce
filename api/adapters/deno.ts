/**
 * Deno runtime adapter (excluded from tsc):
 * `deno run --allow-read --allow-write --allow-net --allow-ffi --allow-env api/adapters/deno.ts <archiveDir> [config]`.
 * Same wiring as Node (Deno provides node:fs); only the server differs. Never: adds app logic.
 */
import { buildAppFromFiles } from './node.ts';

declare const Deno: { args: string[]; serve(o: { hostname: string; port: number }, h: (r: Request) => Response | Promise<Response>): unknown };

const [archiveDir, configPath] = Deno.args;
const { app, config } = await buildAppFromFiles({ archiveDir, configPath });
Deno.serve({ hostname: config.host, port: config.port }, app.fetch);
