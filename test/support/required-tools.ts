// The external tools the suite relies on (oracles, peers, capture rights), how to tell that
// each really works here, and which Debian package .ci/setup-system.sh installs it from. A test
// that needs one asks `skipUnlessTools(...)`: on a developer machine a missing tool skips the
// test with a reason that names the tool and the package; under CI=true (where .ci/run installs
// them all) a missing tool throws, so the file fails instead of going green with a layer
// untested. Probes run each tool once per process and never touch the network.
import { spawnSync } from 'node:child_process';

/** A probe: a command that exits 0 only when the tool can do what the tests need. */
type Tool = { readonly probe: readonly string[]; readonly apt: string; readonly needs: string };

/** Every external tool a test may require. */
export const REQUIRED_TOOLS = {
  tshark: { probe: ['tshark', '--version'], apt: 'tshark', needs: 'tshark (the dissection oracle)' },
  editcap: { probe: ['editcap', '-v'], apt: 'wireshark-common', needs: 'editcap (an independent pcapng writer)' },
  capinfos: { probe: ['capinfos', '-v'], apt: 'wireshark-common', needs: 'capinfos' },
  tcpdump: { probe: ['tcpdump', '--version'], apt: 'tcpdump', needs: 'tcpdump' },
  nfdump: { probe: ['nfdump', '-V'], apt: 'nfdump', needs: 'nfdump (the filter-language oracle)' },
  softflowd: { probe: ['softflowd', '-h'], apt: 'softflowd', needs: 'softflowd (a real NetFlow/IPFIX exporter)' },
  // `-d` opens the device to learn its link type, then prints the compiled filter and exits:
  // it succeeds exactly when this process may capture on lo (CAP_NET_RAW), root or not.
  'capture-on-lo': { probe: ['tcpdump', '-i', 'lo', '-d'], apt: 'tcpdump', needs: 'the right to capture on lo (CAP_NET_RAW) with tcpdump' },
  gzip: { probe: ['gzip', '--version'], apt: 'gzip', needs: 'gzip (writes the compressed-capture fixtures)' },
  zstd: { probe: ['zstd', '--version'], apt: 'zstd', needs: 'zstd (writes the compressed-capture fixtures)' },
  xz: { probe: ['xz', '--version'], apt: 'xz-utils', needs: 'xz (writes the compressed-capture fixtures)' },
  chromium: { probe: ['chromium-headless-shell', '--version'], apt: 'chromium-headless-shell', needs: 'headless Chromium (renders the /docs page)' },
} as const satisfies Record<string, Tool>;

export type ToolName = keyof typeof REQUIRED_TOOLS;

const cache = new Map<ToolName, boolean>();

/** True when `name` works on this machine (probed once per process). */
export function toolWorks(name: ToolName): boolean {
  let ok = cache.get(name);
  if (ok === undefined) {
    const [cmd, ...args] = REQUIRED_TOOLS[name].probe;
    const r = spawnSync(cmd!, args, { stdio: 'ignore', timeout: 20_000 });
    ok = r.status === 0;
    cache.set(name, ok);
  }
  return ok;
}

/** Whether this process runs under CI (`CI=true`, as .ci/run is started). */
export function inCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * A `skip` option for node:test: false when every named tool works, else a reason naming the
 * missing tools and their packages.
 * @throws Error under CI=true when a tool is missing: CI installs them all, so a gap there is a
 *   broken setup, never a reason to skip.
 */
export function skipUnlessTools(...names: ToolName[]): string | false {
  const missing = names.filter((n) => !toolWorks(n));
  if (missing.length === 0) return false;
  const what = missing.map((n) => `${REQUIRED_TOOLS[n].needs} [apt: ${REQUIRED_TOOLS[n].apt}]`).join(', ');
  if (inCi()) throw new Error(`CI=true but the suite's required tools are missing: ${what}. .ci/setup-system.sh must install them.`);
  return `missing ${what}; .ci/setup-system.sh installs it`;
}

/** A `skip` option for a tool shipped as an npm devDependency (bun, deno, wrangler). */
export function skipUnlessNpmBin(name: string, path: string | null): string | false {
  if (path) return false;
  const what = `${name} binary not found in node_modules/.bin (devDependency \`${name}\` not installed)`;
  if (inCi()) throw new Error(`CI=true but ${what}: run npm ci`);
  return what;
}
