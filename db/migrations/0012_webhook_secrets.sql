-- Each user's webhook signing secret, encrypted with the key ring (never stored in the clear). A
-- rotation keeps the previous secret until previous_until, so deliveries carry both meanwhile.
create table webhook_secrets (
    user_id         uuid        primary key,
    secret          text        not null,
    created_at      timestamptz not null,
    previous_secret text,
    previous_until  timestamptz,
    check ((previous_secret is null) = (previous_until is null))
);
