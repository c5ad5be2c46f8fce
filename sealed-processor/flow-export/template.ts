/**
 * A compiled NetFlow v9 / IPFIX template: the field specifiers as received, plus what the record
 * decoder needs precomputed (one element code per field, the record length).
 *
 * Element codes: an IANA information element id (0..32767, NetFlow v9 field types share those
 * numbers); `id | REVERSE_BIT` for an RFC 5103 reverse element (enterprise 29305);
 * `SKIP_FIELD` for any other enterprise element and for NetFlow v9 scope fields (whose types are
 * scope kinds, not elements).
 *
 * A template without variable-length fields also gets a compiled plan (record-plan.ts
 * `RecordPlan`), built once when it arrives: the byte offset of every field inside the record
 * and one reader op per field, chosen from (element, length), so the record loop neither walks
 * lengths, nor re-checks bounds per field, nor dispatches on the length of an integer; fields
 * no reader uses (scope fields, unknown or enterprise elements, zero length) are left out.
 * Never: decodes records or touches the store.
 */
import { REVERSE_BIT, REVERSE_PEN, SKIP_FIELD, VARIABLE_LENGTH } from './elements.ts';
import { compilePlan, type RecordPlan } from './record-plan.ts';

export { REVERSE_BIT, REVERSE_PEN, SKIP_FIELD, VARIABLE_LENGTH } from './elements.ts';

export interface Template {
  readonly id: number;
  /** True for an options template (its data records are sampler tables etc., not flows). */
  readonly options: boolean;
  /** Number of leading scope fields (options templates; 0 otherwise). */
  readonly scopeCount: number;
  /** Element id without the enterprise bit, per field, as on the wire. */
  readonly types: Uint16Array;
  readonly lengths: Uint16Array;
  /** Private Enterprise Number per field; 0 for IANA elements. */
  readonly enterprises: Uint32Array;
  readonly codes: Int32Array;
  /** Record length when no field is variable-length, else -1. */
  readonly fixedLength: number;
  /** Smallest possible record (variable-length fields counted as 1 byte). */
  readonly minLength: number;
  /** The compiled reader of a fixed-length template; null when a field is variable-length. */
  readonly plan: RecordPlan | null;
}

/**
 * Builds a template from its field specifiers.
 * @param version 9: scope fields become SKIP_FIELD and 65535 is an ordinary (absurd) length, as
 *   NetFlow v9 has no variable-length fields; 10: IPFIX rules.
 * @throws TypeError when the arrays disagree in length or scopeCount exceeds the field count
 *   (callers validate wire input before).
 */
export function compileTemplate(
  version: 9 | 10,
  id: number,
  options: boolean,
  scopeCount: number,
  types: Uint16Array,
  lengths: Uint16Array,
  enterprises: Uint32Array,
): Template {
  const n = types.length;
  if (lengths.length !== n || enterprises.length !== n || scopeCount > n) throw new TypeError('compileTemplate: inconsistent field arrays');
  const codes = new Int32Array(n);
  let fixed = 0;
  let min = 0;
  let variable = false;
  for (let i = 0; i < n; i++) {
    const pen = enterprises[i];
    if (version === 9 && i < scopeCount) codes[i] = SKIP_FIELD;
    else if (pen === 0) codes[i] = types[i];
    else if (pen === REVERSE_PEN) codes[i] = types[i] | REVERSE_BIT;
    else codes[i] = SKIP_FIELD;
    if (lengths[i] === VARIABLE_LENGTH && version === 10) {
      variable = true;
      min += 1;
    } else {
      fixed += lengths[i];
      min += lengths[i];
    }
  }
  const plan = variable ? null : compilePlan(codes, lengths, fixed);
  return { id, options, scopeCount, types, lengths, enterprises, codes, fixedLength: variable ? -1 : fixed, minLength: min, plan };
}

/**
 * `compileTemplate`, or `current` itself when it already describes this layout (same version
 * by construction: a domain holds one version). Why: exporters resend their templates every few
 * datagrams (softflowd: about one in three), and a refresh that changes nothing need not
 * compile a plan again.
 */
export function refreshTemplate(
  version: 9 | 10,
  id: number,
  options: boolean,
  scopeCount: number,
  types: Uint16Array,
  lengths: Uint16Array,
  enterprises: Uint32Array,
  current: Template | undefined,
): Template {
  if (current !== undefined && current.id === id && current.options === options && current.scopeCount === scopeCount && sameFields(current, types, lengths, enterprises)) return current;
  return compileTemplate(version, id, options, scopeCount, types, lengths, enterprises);
}

function sameFields(t: Template, types: Uint16Array, lengths: Uint16Array, enterprises: Uint32Array): boolean {
  if (t.types.length !== types.length || enterprises.length !== types.length || lengths.length !== types.length) return false;
  for (let i = 0; i < types.length; i++) if (t.types[i] !== types[i] || t.lengths[i] !== lengths[i] || t.enterprises[i] !== enterprises[i]) return false;
  return true;
}

/** True when both templates describe the same record layout. */
export function sameTemplate(a: Template, b: Template): boolean {
  if (a.options !== b.options || a.scopeCount !== b.scopeCount || a.types.length !== b.types.length) return false;
  for (let i = 0; i < a.types.length; i++) {
    if (a.types[i] !== b.types[i] || a.lengths[i] !== b.lengths[i] || a.enterprises[i] !== b.enterprises[i]) return false;
  }
  return true;
}
