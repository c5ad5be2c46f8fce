/**
 * Stable error codes and the one error class every component throws for untrusted input.
 *
 * Owns: the code list, its HTTP status and CLI exit code. Callers `switch (err.code)`.
 * Never: put raw addresses, names or payload bytes into a message — messages are shown to
 * users, written to logs and returned over HTTP.
 */

export const ErrorCode = {
  // generic
  BadRequest: 'ERR_BAD_REQUEST',
  Internal: 'ERR_INTERNAL',
  NotFound: 'ERR_NOT_FOUND',
  // configuration and files
  ConfigInvalid: 'ERR_CONFIG_INVALID',
  PolicyInvalid: 'ERR_POLICY_INVALID',
  KeyInvalid: 'ERR_KEY_INVALID',
  // captures
  CaptureBadMagic: 'ERR_CAPTURE_BAD_MAGIC',
  CaptureTruncated: 'ERR_CAPTURE_TRUNCATED',
  CaptureCorrupt: 'ERR_CAPTURE_CORRUPT',
  CaptureUnsupported: 'ERR_CAPTURE_UNSUPPORTED',
  /** A gzip/zstd/xz-compressed capture whose compressed stream ends early: the records decoded before the cut are kept. */
  CaptureCompressedTruncated: 'ERR_CAPTURE_COMPRESSED_TRUNCATED',
  /** A gzip/zstd/xz-compressed capture whose compressed stream is damaged (bad data, checksum, framing): the records decoded before the damage are kept. */
  CaptureCompressedCorrupt: 'ERR_CAPTURE_COMPRESSED_CORRUPT',
  // inputs named on the command line (checked before a run is opened; messages name the path)
  /** An input path that does not exist. */
  InputNotFound: 'ERR_INPUT_NOT_FOUND',
  /** An input path that is a directory or another non-file (a FIFO or `-` is fine). */
  InputNotAFile: 'ERR_INPUT_NOT_A_FILE',
  /** An input path that exists but cannot be opened (permissions, IO error). */
  InputUnreadable: 'ERR_INPUT_UNREADABLE',
  /** A regular file that does not start like a capture (pcap, pcapng, or one compressed with gzip, zstd or xz): empty, text, ... */
  InputNotCapture: 'ERR_INPUT_NOT_A_CAPTURE',
  /** A listen address (`--listen`, `--netflow-listen`) that is not `IPv4:port` or `[IPv6]:port`. */
  ListenAddressInvalid: 'ERR_LISTEN_ADDRESS_INVALID',
  /** A UDP port outside 0-65535 (1-65535 where 0 would mean "any"). */
  PortInvalid: 'ERR_PORT_INVALID',
  /** The collector's socket could not bind (address in use, not a local address, no permission). */
  ListenFailed: 'ERR_LISTEN_FAILED',
  // spool
  SpoolNoPublicKey: 'ERR_SPOOL_NO_PUBLIC_KEY',
  SpoolBadHeader: 'ERR_SPOOL_BAD_HEADER',
  SpoolUnknownKey: 'ERR_SPOOL_UNKNOWN_KEY',
  SpoolAuthFailed: 'ERR_SPOOL_AUTH_FAILED',
  SpoolTruncated: 'ERR_SPOOL_TRUNCATED',
  SpoolReplayed: 'ERR_SPOOL_REPLAYED',
  SpoolRecordInvalid: 'ERR_SPOOL_RECORD_INVALID',
  SpoolNotAFile: 'ERR_SPOOL_NOT_A_FILE',
  SpoolTooLarge: 'ERR_SPOOL_TOO_LARGE',
  // processor
  ProcessorWorkerFailed: 'ERR_PROCESSOR_WORKER_FAILED',
  /** A segment with too many records shown to crash the worker: quarantined, the rest of its run published. */
  ProcessorSegmentPoisoned: 'ERR_PROCESSOR_SEGMENT_POISONED',
  /** A segment in which fresh workers keep dying at one record, even fed it alone, with no evidence against it: quarantined, the rest of its run published. */
  ProcessorSegmentUnprocessable: 'ERR_PROCESSOR_SEGMENT_UNPROCESSABLE',
  /** A worker checkpoint could not be read back (missing, damaged, not sealed with this run's key, inconsistent): the run continues without it, what it held counted as lost. */
  ProcessorCheckpointInvalid: 'ERR_PROCESSOR_CHECKPOINT_INVALID',
  ArchiveWriteFailed: 'ERR_ARCHIVE_WRITE_FAILED',
  /** A run's manifest or files failed a read-side check: the run is left out of the archive (logged, counted in rejectedRuns). */
  ArchiveRunRejected: 'ERR_ARCHIVE_RUN_REJECTED',
  /** A file a query read was replaced or rewritten after the catalog checked it: the answer is withheld (retry). */
  ArchiveChanged: 'ERR_ARCHIVE_CHANGED',
  // api
  AuthMissing: 'ERR_AUTH_MISSING',
  AuthInvalid: 'ERR_AUTH_INVALID',
  AuthExpired: 'ERR_AUTH_EXPIRED',
  Forbidden: 'ERR_FORBIDDEN',
  RateLimited: 'ERR_RATE_LIMITED',
  /** The server's query queue is full (every subject's share together): retry after `Retry-After`. */
  Overloaded: 'ERR_OVERLOADED',
  PayloadTooLarge: 'ERR_PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  NotAcceptable: 'ERR_NOT_ACCEPTABLE',
  QueryInvalid: 'ERR_QUERY_INVALID',
  QueryFilterInvalid: 'ERR_QUERY_FILTER_INVALID',
  /** An nfdump-style filter expression did not parse: details give the character position and what was expected. */
  QueryFilterSyntax: 'ERR_QUERY_FILTER_SYNTAX',
  /** A pagination cursor that is malformed, forged, expired, or belongs to a different query. */
  QueryCursorInvalid: 'ERR_QUERY_CURSOR_INVALID',
  QueryTimeout: 'ERR_QUERY_TIMEOUT',
  QueryTooLarge: 'ERR_QUERY_TOO_LARGE',
  /** The query's estimated cost (before running) is over the configured maximum; details name the factor. */
  QueryTooExpensive: 'ERR_QUERY_TOO_EXPENSIVE',
  DatasetNotFound: 'ERR_DATASET_NOT_FOUND',
  UpstreamUnavailable: 'ERR_UPSTREAM_UNAVAILABLE',
  AuditUnavailable: 'ERR_AUDIT_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each code (API envelope). */
export const errorStatus: Record<ErrorCode, number> = {
  ERR_BAD_REQUEST: 400,
  ERR_INTERNAL: 500,
  ERR_NOT_FOUND: 404,
  ERR_CONFIG_INVALID: 500,
  ERR_POLICY_INVALID: 400,
  ERR_KEY_INVALID: 400,
  ERR_CAPTURE_BAD_MAGIC: 400,
  ERR_CAPTURE_TRUNCATED: 400,
  ERR_CAPTURE_CORRUPT: 400,
  ERR_CAPTURE_UNSUPPORTED: 400,
  ERR_CAPTURE_COMPRESSED_TRUNCATED: 400,
  ERR_CAPTURE_COMPRESSED_CORRUPT: 400,
  ERR_INPUT_NOT_FOUND: 400,
  ERR_INPUT_NOT_A_FILE: 400,
  ERR_INPUT_UNREADABLE: 400,
  ERR_INPUT_NOT_A_CAPTURE: 400,
  ERR_LISTEN_ADDRESS_INVALID: 400,
  ERR_PORT_INVALID: 400,
  ERR_LISTEN_FAILED: 500,
  ERR_SPOOL_NO_PUBLIC_KEY: 500,
  ERR_SPOOL_BAD_HEADER: 500,
  ERR_SPOOL_UNKNOWN_KEY: 500,
  ERR_SPOOL_AUTH_FAILED: 500,
  ERR_SPOOL_TRUNCATED: 500,
  ERR_SPOOL_REPLAYED: 500,
  ERR_SPOOL_RECORD_INVALID: 500,
  ERR_SPOOL_NOT_A_FILE: 500,
  ERR_SPOOL_TOO_LARGE: 500,
  ERR_PROCESSOR_WORKER_FAILED: 500,
  ERR_PROCESSOR_SEGMENT_POISONED: 500,
  ERR_PROCESSOR_SEGMENT_UNPROCESSABLE: 500,
  ERR_PROCESSOR_CHECKPOINT_INVALID: 500,
  ERR_ARCHIVE_WRITE_FAILED: 500,
  ERR_ARCHIVE_RUN_REJECTED: 500,
  ERR_ARCHIVE_CHANGED: 503,
  ERR_AUTH_MISSING: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_FORBIDDEN: 403,
  ERR_RATE_LIMITED: 429,
  ERR_OVERLOADED: 503,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_NOT_ACCEPTABLE: 406,
  ERR_QUERY_INVALID: 400,
  ERR_QUERY_FILTER_INVALID: 400,
  ERR_QUERY_FILTER_SYNTAX: 400,
  ERR_QUERY_CURSOR_INVALID: 400,
  ERR_QUERY_TIMEOUT: 504,
  ERR_QUERY_TOO_LARGE: 400,
  ERR_QUERY_TOO_EXPENSIVE: 400,
  ERR_DATASET_NOT_FOUND: 404,
  ERR_UPSTREAM_UNAVAILABLE: 502,
  ERR_AUDIT_UNAVAILABLE: 503,
};

/** CLI exit codes: 2 = usage/config/input problems, 3 = data corruption, 1 = anything else. */
export function exitCodeFor(code: ErrorCode): number {
  if (code.startsWith('ERR_CAPTURE_') || code.startsWith('ERR_SPOOL_')) return 3;
  if (code.startsWith('ERR_INPUT_') || code === ErrorCode.ListenAddressInvalid || code === ErrorCode.PortInvalid || code === ErrorCode.ListenFailed) return 2;
  if (code === ErrorCode.ConfigInvalid || code === ErrorCode.AuditUnavailable || code === ErrorCode.PolicyInvalid || code === ErrorCode.KeyInvalid || code === ErrorCode.BadRequest) return 2;
  return 1;
}

/**
 * The error for untrusted input and operational failures. `details` must be non-sensitive
 * (offsets, counts, field names), never raw traffic data.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }
  get status(): number {
    return errorStatus[this.code];
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
