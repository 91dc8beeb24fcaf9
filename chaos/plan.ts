// What the soak will ingest: files of mixed sizes (a few KB to ~40 MB), and submissions spread over the chaos
// window, some aimed at a file another submission uses at the same moment (those expect a lock refusal).
import type { Random } from './random.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * Sizes and how often each is drawn: mostly small (as real corpora are, and so that a few hundred sagas fit in the
 * chaos window), still about one in eight of 5 MiB and more, which upload long enough to be hit by the faults.
 */
const SIZES: readonly (readonly [number, number])[] = [
  [4 * KiB, 12],
  [64 * KiB, 12],
  [256 * KiB, 12],
  [1 * MiB, 6],
  [5 * MiB + 17, 2],
  [12 * MiB, 2],
  [24 * MiB, 1],
  [40 * MiB, 1],
];

/** One source file. */
export interface PlannedFile {
  name: string;
  bytes: number;
}

/** One submission: which file, when (ms after the chaos starts), with which idempotency key and extras. */
export interface PlannedSubmission {
  index: number;
  file: PlannedFile;
  atMs: number;
  idempotencyKey: string;
  /** A second submission racing another one for the same file. */
  sharesFile: boolean;
  /** Modify the source once the saga is uploading (files of 5 MiB and more only). */
  mutate: 'append' | 'overwrite' | null;
  /** A user cancels the saga this long after submitting it. */
  cancelAfterMs: number | null;
  content?: string;
  relations?: { type: string; target: string }[];
  /** Once committed, the document is deleted, or replaced by `replacement` (a file of its own). */
  followUp: 'delete' | 'replace' | null;
  replacement?: PlannedFile;
}

/** The whole plan. */
export interface SoakPlan {
  files: PlannedFile[];
  submissions: PlannedSubmission[];
}

/** Draws `count` submissions over `windowMs`; about one in five races an earlier one for its file, and about one in
 * three of the large ones will see its source modified while it uploads. */
export function planSoak(random: Random, count: number, windowMs: number, runId: string): SoakPlan {
  const files: PlannedFile[] = [];
  const submissions: PlannedSubmission[] = [];
  for (let i = 0; i < count; i++) {
    const previous = submissions[submissions.length - 1];
    const race = previous !== undefined && !previous.sharesFile && random.chance(0.2);
    let file: PlannedFile;
    if (race) {
      file = previous.file;
    } else {
      file = { name: `doc-${String(files.length).padStart(3, '0')}.bin`, bytes: random.weighted(SIZES) };
      files.push(file);
    }
    const atMs = race ? previous.atMs + random.int(0, 50) : random.int(0, windowMs);
    // About one in eight committed documents is deleted and one in eight replaced, under the same chaos.
    const roll = race ? 1 : random.next();
    const followUp = roll < 0.125 ? 'delete' : roll < 0.25 ? 'replace' : null;
    let replacement: PlannedFile | undefined;
    if (followUp === 'replace') {
      replacement = { name: `rep-${String(files.length).padStart(3, '0')}.bin`, bytes: random.weighted(SIZES) };
      files.push(replacement);
    }
    submissions.push({
      index: i,
      file,
      atMs,
      idempotencyKey: `${runId}-${i}`,
      sharesFile: race,
      mutate: !race && file.bytes >= 5 * MiB && random.chance(0.3) ? (random.chance(0.5) ? 'append' : 'overwrite') : null,
      cancelAfterMs: !race && file.bytes >= MiB && random.chance(0.15) ? random.int(50, 1200) : null,
      ...(random.chance(0.6) ? { content: `soak document ${i} `.repeat(random.int(10, 400)) } : {}),
      ...(random.chance(0.4) ? { relations: [{ type: 'cites', target: `doc:soak-${random.int(0, 5)}` }] } : {}),
      followUp,
      ...(replacement ? { replacement } : {}),
    });
  }
  submissions.sort((a, b) => a.atMs - b.atMs);
  return { files, submissions };
}
