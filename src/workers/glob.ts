/**
 * Repo-relative path globs, as written in role allowances and `.github/shopfloor.yml`:
 * `*` is any run of characters within one path segment, `**` any run across segments, and
 * `**\/` any number of leading folders, none included (`**\/*.test.*` matches `a.test.ts`).
 * Everything else is literal; a pattern matches the whole path.
 */
export function globMatch(pattern: string, path: string): boolean {
  return globRegExp(pattern).test(path);
}

const cache = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    const source = pattern
      .split("**/")
      .map((part) => part.split("**").map((p) => p.split("*").map(escape).join("[^/]*")).join(".*"))
      .join("(?:.*/)?");
    re = new RegExp(`^${source}$`);
    cache.set(pattern, re);
  }
  return re;
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
