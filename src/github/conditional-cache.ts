import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/**
 * What the analysis remembers between runs so it can ask GitHub "has this changed?" instead of
 * downloading it again. Two kinds of entries share one store:
 * - an ETag with the (already reduced) value it stood for: the next GET carries `If-None-Match`,
 *   and a 304 answer reuses the value. GitHub does not count a 304 to an authorised request
 *   against the primary rate limit ("Best practices for using the REST API": use conditional
 *   requests if appropriate).
 * - a value with no ETag, for what cannot change: the classification of a completed job's log.
 *   Such an entry saves the request altogether.
 *
 * Values are the reduced records the analysis keeps, never raw responses, so a page of a hundred
 * runs is a few kilobytes. They are checked again when read: the file is on disk and may be
 * stale, edited or half written, and a bad entry is only a cache miss.
 */

export interface CacheEntry {
  /** The ETag GitHub sent with the value; null for a value that never changes. */
  etag: string | null;
  value: unknown;
}

export interface ConditionalCache {
  get(key: string): CacheEntry | undefined;
  set(key: string, entry: CacheEntry): void;
}

/** Entries kept by default: a year of daily runs of a busy repository's pages, jobs and logs. */
export const DEFAULT_CACHE_ENTRIES = 20_000;

/**
 * A bounded map: the least recently used entry goes when it is full, so a long-lived process (or
 * a file carried from run to run) cannot grow without end.
 */
export class MemoryCache implements ConditionalCache {
  protected readonly entries = new Map<string, CacheEntry>();

  constructor(readonly maxEntries = DEFAULT_CACHE_ENTRIES) {}

  get(key: string): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: CacheEntry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

const FILE_VERSION = 1;
const CacheFileSchema = z.object({
  version: z.literal(FILE_VERSION),
  entries: z.array(z.tuple([z.string(), z.object({ etag: z.string().nullable(), value: z.unknown() })])),
});

/**
 * The memory cache, loaded from and saved to one JSON file (the CLI keeps it under
 * .switchyard/cache). A missing, unreadable or foreign file starts an empty cache and says why in
 * `problem`: a cache is an optimisation, never a reason to fail the analysis.
 */
export class FileCache extends MemoryCache {
  problem: string | null = null;
  private dirty = false;

  private constructor(
    readonly file: string,
    maxEntries: number,
  ) {
    super(maxEntries);
  }

  static async open(file: string, maxEntries = DEFAULT_CACHE_ENTRIES): Promise<FileCache> {
    const cache = new FileCache(file, maxEntries);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        cache.problem = `cannot read the cache ${file} (${(error as Error).message}); starting empty`;
      }
      return cache;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      cache.problem = `the cache ${file} is not JSON (a write was cut short?); starting empty`;
      return cache;
    }
    const parsed = CacheFileSchema.safeParse(raw);
    if (!parsed.success) {
      cache.problem = `the cache ${file} is not a Switchyard cache of version ${FILE_VERSION}; starting empty`;
      return cache;
    }
    for (const [key, entry] of parsed.data.entries) MemoryCache.prototype.set.call(cache, key, entry);
    return cache;
  }

  override set(key: string, entry: CacheEntry): void {
    super.set(key, entry);
    this.dirty = true;
  }

  /** Writes the file if anything changed, through a temporary file so a crash never leaves half of one. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    await mkdir(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ version: FILE_VERSION, entries: [...this.entries] }));
    await rename(temp, this.file);
    this.dirty = false;
  }
}
