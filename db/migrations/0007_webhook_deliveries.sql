-- The webhook outbox: a delivery per notifying event, written in the event's transaction and sent
-- by a background job with retries, so a dead or slow endpoint never holds up a campaign.
create table webhook_deliveries (
    delivery_id     uuid        primary key,
    event_id        uuid        not null references campaign_events (event_id) on delete cascade,
    campaign_id     uuid        not null references campaigns (campaign_id) on delete cascade,
    url             text        not null,
    payload         jsonb       not null,
    status          text        not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
    attempts        integer     not null default 0,
    next_attempt_at timestamptz not null,
    last_error      text,
    created_at      timestamptz not null,
    delivered_at    timestamptz
);

create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
