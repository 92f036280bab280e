-- Every delivery attempt, whatever became of it.
create table webhook_delivery_attempts (
    attempt_id      bigint      generated always as identity primary key,
    delivery_id     uuid        not null references webhook_deliveries (delivery_id) on delete cascade,
    attempt         integer     not null,
    attempted_at    timestamptz not null,
    duration_ms     integer     not null,
    response_status integer,
    error           text,
    delivery_status text        not null check (delivery_status in ('delivered', 'pending', 'dead'))
);

create index webhook_delivery_attempts_delivery on webhook_delivery_attempts (delivery_id, attempt);

-- Deliveries still to be sent take the body of the Standard Webhooks form they are now sent in.
update webhook_deliveries
set payload = jsonb_build_object(
    'type', 'campaign.' || (payload ->> 'type'),
    'timestamp', payload -> 'occurred_at',
    'data', jsonb_build_object('campaign_id', payload -> 'campaign_id', 'status', payload -> 'status',
                               'reason', payload -> 'reason', 'metadata', payload -> 'metadata'))
where status = 'pending' and payload ? 'occurred_at';
