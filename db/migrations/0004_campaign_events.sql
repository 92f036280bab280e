-- The audit trail of a campaign: each status change and each update, written in the same
-- transaction as the change it records.
create table campaign_events (
    event_id    uuid        primary key,
    campaign_id uuid        not null references campaigns (campaign_id) on delete cascade,
    type        text        not null,
    from_status text,
    to_status   text,
    reason      text,
    actor       text        not null check (actor in ('user', 'system')),
    -- what the event is about beyond its status: e.g. the fields an update changed
    details     jsonb       not null default '{}',
    created_at  timestamptz not null
);

create index campaign_events_in_order on campaign_events (campaign_id, created_at, event_id);
