-- Idempotency-Key claims and the first response they answered with, per user, kept 24 hours.
create table idempotency_keys (
    user_id         uuid        not null,
    key             text        not null check (char_length(key) between 1 and 255),
    request_hash    bytea,
    status_code     integer,
    response_headers jsonb,
    response_body   bytea,
    created_at      timestamptz not null,
    completed_at    timestamptz,
    primary key (user_id, key)
);

create index idempotency_keys_by_age on idempotency_keys (created_at);
