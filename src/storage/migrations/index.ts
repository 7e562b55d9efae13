// The ordered list of migrations. Append only: an applied migration is never edited.
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-submission-order.js';
import * as m0003 from './0003-lookup-function.js';
import * as m0004 from './0004-history-previous-only.js';
import * as m0005 from './0005-lookup-by-key.js';
import * as m0006 from './0006-submission-json.js';
import * as m0007 from './0007-submission-type.js';
import * as m0008 from './0008-index-state.js';
import * as m0020 from './0020-submission-ig.js';
import * as m0040 from './0040-unchanged-resends.js';
import * as m0060 from './0060-submission-client.js';
import * as m0061 from './0061-rejected-retention.js';
import * as m0062 from './0062-search-number.js';
import * as m0070 from './0070-audit-event.js';
import * as m0071 from './0071-export-job.js';
import * as m0080 from './0080-event-outbox.js';
import * as m0081 from './0081-notification.js';
import * as m0082 from './0082-change-feed.js';
import * as m0090 from './0090-agenda.js';
import * as m0100 from './0100-ppa-review.js';
import * as m0150 from './0150-search-composite.js';
import * as m0151 from './0151-search-quantity-canonical.js';
import * as m0160 from './0160-page-indexes.js';
import * as m0161 from './0161-derived-tables.js';
import * as m0170 from './0170-history-partitions.js';
import * as m0180 from './0180-ppa-validation.js';
import * as m0181 from './0181-derived-refresh-cost.js';
import * as m0182 from './0182-submission-lz4.js';
import * as m0183 from './0183-pilotage-slots.js';
import * as m0190 from './0190-key-lock-fold.js';
import * as m0191 from './0191-ppa-validation-due-order.js';
import * as m0192 from './0192-refresh-statistics.js';
import * as m0196 from './0196-submission-parts.js';
import * as m0198 from './0198-usager-count.js';
import * as m0199 from './0199-refresh-chunks.js';
import * as m0200 from './0200-refresh-sections.js';
import * as m0201 from './0201-fewer-index-entries.js';
import * as m0202 from './0202-change-writes.js';
import * as m0203 from './0203-derived-pending.js';

export interface Migration {
  version: string;
  statements: string[];
}

export const MIGRATIONS: Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0020, m0040, m0060, m0061, m0062, m0070, m0071, m0080, m0081, m0082, m0090, m0100, m0150, m0151, m0160, m0161, m0170, m0180, m0181, m0182, m0183, m0190, m0191, m0192, m0196, m0198, m0199, m0200, m0201, m0202, m0203];
