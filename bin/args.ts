/**
 * Command-line argument handling shared by every `flowseal` command: option declarations that
 * carry their own help (value placeholder, default, description), parsing against them, help
 * text, and "did you mean" suggestions by edit distance.
 *
 * Parsing uses node:util `parseArgs` in non-strict mode with tokens and then checks every token
 * itself, so that (a) an unknown option gets a suggestion instead of a bare refusal and (b) a
 * string option takes a value that starts with a dash (`--from -1h`, `--order -bytes`), which
 * strict mode refuses as ambiguous.
 *
 * Owns: option syntax, usage errors (AppError ERR_BAD_REQUEST → exit 2) and help layout.
 * Never: reads files, the environment or the network; never echoes an option's value in an
 * error (a value may be a token).
 */
import { parseArgs } from 'node:util';
import { AppError, ErrorCode } from '../schemas/errors.ts';

/** One option of a command, with what `--help` says about it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Repeatable: every occurrence is collected (values become an array). */
  readonly multiple?: boolean;
  /** Placeholder of the value in help, e.g. `<dir>`. String options only. */
  readonly value?: string;
  /** What applies when the option is absent, as help shows it (`8787`, `off`, `none`). */
  readonly default?: string;
  /** The command refuses to run without it (help says "required" instead of a default). */
  readonly required?: boolean;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;
export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible typo: within
 * max(1, ⌊length/3⌋) edits (at most 3), or an abbreviation (a prefix of at least 3 characters).
 * Ties go to the earlier candidate.
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const budget = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  for (const c of candidates) {
    const dist = editDistance(input, c);
    const prefix = input.length >= 3 && c.startsWith(input);
    const score = prefix ? Math.min(dist, 0.5) : dist;
    if ((dist <= budget || prefix) && score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** ` (did you mean X?)` for the closest candidate, or the empty string. */
export function suggestion(input: string, candidates: readonly string[], render: (c: string) => string = (c) => c): string {
  const c = closest(input, candidates);
  return c === undefined ? '' : `; did you mean ${render(c)}?`;
}

/**
 * Parses `args` against `specs`.
 * @throws AppError ERR_BAD_REQUEST for an unknown option (with a suggestion), a string option
 *   without a value, a value given to a boolean option, or a non-repeatable option given twice.
 */
export function parseCommandArgs(args: readonly string[], specs: OptionSpecs): { values: ParsedValues; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const values: ParsedValues = {};
  const positionals: string[] = [];
  const longNames = Object.keys(specs).map((n) => `--${n}`);
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
      continue;
    }
    if (t.kind !== 'option') continue;
    const spec = Object.hasOwn(specs, t.name) ? specs[t.name] : undefined;
    if (spec === undefined) {
      const raw = t.rawName.startsWith('--') ? t.rawName : `-${t.name}`;
      throw new AppError(ErrorCode.BadRequest, `unknown option '${raw}'${t.rawName.startsWith('--') ? suggestion(raw, longNames) : ''}`);
    }
    const label = `--${t.name}`;
    if (spec.type === 'boolean') {
      if (t.value !== undefined) throw new AppError(ErrorCode.BadRequest, `${label} takes no value`);
      values[t.name] = true;
      continue;
    }
    // `--dataset --from x`: the next word is one of our options, so the value was forgotten.
    if (t.value === undefined || (!t.inlineValue && longNames.includes(t.value))) {
      throw new AppError(ErrorCode.BadRequest, `${label} needs a value${spec.value ? ` ${spec.value}` : ''}`);
    }
    if (spec.multiple) {
      const prev = values[t.name];
      values[t.name] = [...(Array.isArray(prev) ? prev : []), t.value];
    } else {
      if (values[t.name] !== undefined) throw new AppError(ErrorCode.BadRequest, `${label} is given more than once`);
      values[t.name] = t.value;
    }
  }
  return { values, positionals };
}

function optionLabel(name: string, s: OptionSpec): string {
  const long = `--${name}${s.type === 'string' ? ` ${s.value ?? '<value>'}` : ''}`;
  return s.short ? `-${s.short}, ${long}` : `    ${long}`;
}

/** The help text of one command: summary, usage, every option with its default, examples. */
export function commandHelp(cmd: { summary: string; usage: string; options: OptionSpecs; examples: readonly string[]; notes?: readonly string[] }): string {
  const rows = Object.entries(cmd.options).map(([name, s]) => {
    const tail = s.required ? '(required)' : `(default: ${s.default ?? (s.type === 'boolean' ? 'off' : 'none')})`;
    return [optionLabel(name, s), `${s.description} ${tail}`] as const;
  });
  rows.push(['-h, --help', 'Show this help and exit (default: off)']);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)));
  const lines = [cmd.summary, '', `Usage: ${cmd.usage}`, '', 'Options:'];
  for (const [label, text] of rows) lines.push(label.length > width ? `  ${label}\n  ${' '.repeat(width)}  ${text}` : `  ${label.padEnd(width)}  ${text}`);
  if (cmd.notes && cmd.notes.length > 0) lines.push('', ...cmd.notes);
  lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/**
 * A duration option (`--publish-every 5m`): a positive number with a unit `ms`, `s`, `m` or
 * `h` (a bare number is seconds), like nfcapd's `-t`. Returns milliseconds.
 * @throws AppError ERR_BAD_REQUEST naming the option.
 */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms >= 1) || !Number.isSafeInteger(Math.round(ms))) throw new AppError(ErrorCode.BadRequest, `--${name} must be a duration such as 300, 90s, 5m or 1h`);
  return Math.round(ms);
}

/**
 * A size option (`--spool-max 20G`): a positive number of bytes with an optional binary unit
 * `K`, `M`, `G` or `T` (KiB, MiB, GiB, TiB; a trailing `B`/`iB` is allowed).
 * @throws AppError ERR_BAD_REQUEST naming the option.
 */
export function parseSize(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!(n >= 1) || !Number.isSafeInteger(Math.floor(n))) throw new AppError(ErrorCode.BadRequest, `--${name} must be a size such as 1073741824, 512M or 20G`);
  return Math.floor(n);
}
