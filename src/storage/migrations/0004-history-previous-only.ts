// resource_history keeps the previous versions only; the current one lives in `resource`
// alone. A first version (most writes: new objects) is then written once instead of twice;
// an update moves the old current row into the history inside the writing statement.

export const version = '0004-history-previous-only';

export const statements: string[] = [
  `DELETE FROM resource_history h USING resource r
    WHERE h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id`,
];
