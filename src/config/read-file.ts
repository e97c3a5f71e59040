import { open } from "node:fs/promises";
import { ConfigError } from "../core/errors.js";
import { MAX_CONFIG_BYTES, formatBytes, type ConfigSource } from "./yaml-source.js";

/**
 * Reads a configuration file for the loader: refuses what is too large before reading it, and
 * bytes that are not UTF-8 text, each with a message that names the file.
 * Returns null when the file does not exist, so callers decide whether absence is an error.
 */
export async function readConfigFile(
  path: string,
  display: string,
  kind: ConfigSource["kind"] = "config",
): Promise<ConfigSource | null> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new ConfigError([{ file: display, message: `cannot be opened (${code ?? String(error)})` }]);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw new ConfigError([{ file: display, message: "is a directory, not a file" }]);
    }
    if (stat.size > MAX_CONFIG_BYTES) {
      throw new ConfigError([
        {
          file: display,
          message: `is ${formatBytes(stat.size)}; configuration files are limited to ${formatBytes(MAX_CONFIG_BYTES)}`,
          hint: "a Switchyard configuration is a few kilobytes: check that the right file is read",
        },
      ]);
    }
    // Read one byte past the limit, in case the file grew after stat.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_CONFIG_BYTES) + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_CONFIG_BYTES) {
      throw new ConfigError([
        {
          file: display,
          message: `is larger than ${formatBytes(MAX_CONFIG_BYTES)}; configuration files are limited to that`,
        },
      ]);
    }
    return { file: display, text: decodeConfigBytes(display, buffer.subarray(0, bytesRead)), kind };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError([{ file: display, message: `cannot be read (${(error as Error).message})` }]);
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Strict UTF-8: a lossy decode would hide a binary or mis-encoded file behind replacement characters. */
export function decodeConfigBytes(display: string, bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ConfigError([
      {
        file: display,
        message: `is not valid UTF-8 text (first bad byte at offset ${firstInvalidUtf8(bytes)})`,
        hint: "save the file as UTF-8",
      },
    ]);
  }
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len =
      b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0) return i;
    if (len > 1 && !isWellFormedSequence(bytes, i, len)) return i;
    i += len;
  }
  return bytes.length;
}

function isWellFormedSequence(bytes: Uint8Array, i: number, len: number): boolean {
  if (i + len > bytes.length) return false;
  try {
    utf8.decode(bytes.subarray(i, i + len));
    return true;
  } catch {
    return false;
  }
}
