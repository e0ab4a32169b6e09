/**
 * A small structured logger: text or one JSON object a line, to stderr by
 * default. Fields never carry secrets; callers are responsible for that.
 *
 * @module
 */

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Extra structured data for a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation. */
  info(message: string, fields?: LogFields): void;
  /** Something failed and will be retried, or a risky setting. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed for good. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Logger settings. */
export interface LoggerOptions {
  /** The lowest level written (default `info`). */
  level?: LogLevel;
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Receives each line (default: written to stderr). */
  sink?: (line: string) => void;
}

function defaultSink(line: string): void {
  console.error(line);
}

function textValue(v: string | number | boolean | null): string {
  return typeof v === "string" && /[\s="]/.test(v) ? JSON.stringify(v) : String(v);
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const sink = options.sink ?? defaultSink;
  const write = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (ORDER[level] < min) return;
    const all = { ...base, ...fields };
    const time = new Date().toISOString();
    if (options.json) {
      sink(JSON.stringify({ time, level, message, ...all }));
      return;
    }
    const extra = Object.entries(all).filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${textValue(v as string | number | boolean | null)}`).join(" ");
    sink(`${time} ${level.toUpperCase().padEnd(5)} ${message}${extra ? " " + extra : ""}`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(options, { ...base, ...fields }),
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger({ sink: () => {} });
