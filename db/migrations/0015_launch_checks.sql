-- What a launch's check found, kept for the enrollment that follows (now, or at start_date) so that it
-- does not apply the rules again: the rows it blocked. Only for campaigns whose verdicts cannot change
-- in between (none of their rules looks at other campaigns); removed by the enrollment.
create table launch_checks (
    campaign_id  uuid        primary key,
    blocked_rows integer[]   not null,
    checked_at   timestamptz not null
);
