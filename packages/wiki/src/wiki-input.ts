// The input a wiki saga is started with (stored as jsonb with the saga).

/** One generated file given inline. */
export interface InlineWikiFile {
  path: string;
  content: string;
}

/** What one wiki generation saves and snapshots. Exactly one of `files` and `filesDir` is set. */
export interface WikiInput {
  projectId: string;
  userId: string;
  files?: InlineWikiFile[];
  /** A directory's real path under SOURCE_ROOT, resolved at submission; read when save_files runs. */
  filesDir?: string;
  requestedAt: string;
}
