// The yearly review of the projet personnalisé (issue 17): which "review due" events were raised,
// one per plan and validation, so a review falling due raises exactly one event however often
// the check runs (D-126).

export const version = '0100-ppa-review';

export const statements: string[] = [
  `CREATE TABLE ppa_review_event (
    careplan text NOT NULL,
    validated_on text NOT NULL,
    due_on date NOT NULL,
    raised timestamptz NOT NULL,
    PRIMARY KEY (careplan, validated_on)
  )`,
];
