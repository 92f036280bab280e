-- Campaigns: one column per scalar field so a PATCH writes only what it names; nested documents as jsonb.
create table campaigns (
    campaign_id                       uuid        primary key,
    user_id                           uuid        not null,
    dataset_id                        uuid        not null references datasets (dataset_id),
    name                              text        not null check (char_length(name) between 1 and 255 and btrim(name) <> ''),
    description                       text        check (char_length(description) <= 1000),
    type                              text        not null check (type in ('email', 'linkedin', 'mixed', 'voice')),
    status                            text        not null default 'draft' check (status in
        ('draft', 'launching', 'scheduled', 'active', 'draining', 'paused', 'completed', 'failed', 'cancelled')),
    launch_type                       text        not null default 'immediate' check (launch_type in ('immediate', 'scheduled')),
    start_date                        timestamptz,
    end_date                          timestamptz,
    daily_limit                       integer     not null default 100 check (daily_limit between 1 and 10000),
    sending_window_start              text        not null default '09:00' check (sending_window_start ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    sending_window_end                text        not null default '17:00' check (sending_window_end ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    min_interval_seconds              integer     not null default 300 check (min_interval_seconds between 60 and 3600),
    timezone                          text        not null default 'UTC',
    send_days                         text[]      not null default '{mon,tue,wed,thu,fri}'
        check (cardinality(send_days) between 1 and 7 and send_days <@ '{mon,tue,wed,thu,fri,sat,sun}'),
    operating_hours                   jsonb       check (jsonb_typeof(operating_hours) = 'object'),
    steps_config                      jsonb       not null check (jsonb_typeof(steps_config) = 'array'
        and jsonb_array_length(steps_config) between 1 and 10),
    alias_ids                         text[]      check (cardinality(alias_ids) <= 50),
    account_limits                    jsonb       not null default '[]' check (jsonb_typeof(account_limits) = 'array'),
    connected_account_id              uuid,
    skip_other_campaigns              boolean     not null default false,
    stop_on_reply                     boolean     not null default true,
    open_tracking                     boolean     not null default false,
    signature                         text        check (char_length(signature) <= 2000),
    voice_config                      jsonb       check (jsonb_typeof(voice_config) = 'object'),
    webhook_config                    jsonb       check (jsonb_typeof(webhook_config) = 'object'),
    system_prompt                     text        check (char_length(system_prompt) between 100 and 5000),
    unreviewed_launch_policy          text        not null default 'launch_default'
        check (unreviewed_launch_policy in ('launch_default', 'hold', 'cancel')),
    personalization_reviewed_at       timestamptz,
    playground_discovery_dismissed_at timestamptz,
    paused_reason                     text,
    total_leads                       integer     not null default 0 check (total_leads >= 0),
    processed_leads                   integer     not null default 0 check (processed_leads >= 0),
    launch_job_id                     text,
    launch_requested_at               timestamptz,
    launched_at                       timestamptz,
    launch_error                      text,
    -- bumped by every write; the ETag and If-Match compare it
    version                           integer     not null default 1,
    created_at                        timestamptz not null,
    updated_at                        timestamptz not null,
    check (sending_window_start <> sending_window_end),
    check (launch_type = 'immediate' or start_date is not null),
    check ((type = 'voice') = (voice_config is not null))
);

-- The list: a user's campaigns newest first, keyset-paginated on (created_at, campaign_id).
create index campaigns_by_user_newest on campaigns (user_id, created_at desc, campaign_id desc);
create index campaigns_by_dataset on campaigns (dataset_id);
