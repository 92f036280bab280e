-- The dispatcher. The lead row is the queue: its current step, the step's channel, the moment the step
-- may happen at the earliest (earliest_at: previous outcome + delay) and that moment moved into the
-- schedule (next_action_at), its own zone, its kept sender. An action is one (lead, step, attempt):
-- the history, and the fence every worker's write passes through.
alter table leads
    -- the row's timezone attribute when it named a valid IANA zone; null reads the lead in the campaign's zone
    add column timezone     text,
    add column channel      text not null default 'email' check (channel in ('email', 'linkedin', 'call')),
    add column earliest_at  timestamptz,
    add column attempt      integer not null default 1 check (attempt >= 1),
    -- the current step's action while it awaits its outcome (leased, lease expired, or given back)
    add column open_action_id uuid,
    add column last_outcome text,
    add column stop_reason  text;

drop index leads_due;
-- The claim's scan: due leads of one channel, oldest first.
create index leads_due on leads (channel, next_action_at)
    where status in ('pending', 'active') and next_action_at is not null;

create table actions (
    action_id          uuid        primary key,
    campaign_id        uuid        not null,
    row_number         integer     not null,
    step               integer     not null check (step >= 1),
    attempt            integer     not null check (attempt >= 1),
    channel            text        not null,
    -- the drawn variant's label, kept for every attempt of the step; null when the step has no variants
    variant            text,
    sender_id          text        not null,
    -- leased (a token holds it, or held it until lease_expires_at), released (given back, due again),
    -- closed (an outcome came), cancelled (closed by the campaign's cancel while waiting)
    state              text        not null check (state in ('leased', 'released', 'closed', 'cancelled')),
    lease_token        uuid,
    lease_expires_at   timestamptz,
    worker             text,
    leased_at          timestamptz not null,
    times_leased       integer     not null default 1,
    outcome            text,
    detail             text,
    duration_seconds   integer,
    provider_reference text,
    occurred_at        timestamptz,
    reported_at        timestamptz,
    -- what the outcome answered, so that the same outcome sent again answers the same
    closing_token      uuid,
    answered_lead_status text,
    answered_next_action_at timestamptz,
    unique (campaign_id, row_number, step, attempt)
);

-- Pacing: per sender of a campaign, what it leased on the campaign-local day `day` and when it last leased.
create table campaign_senders (
    campaign_id    uuid        not null,
    sender_id      text        not null,
    channel        text        not null check (channel in ('email', 'linkedin', 'call')),
    day            date,
    leased_on_day  integer     not null default 0,
    last_leased_at timestamptz,
    -- leads that kept this sender: a new lead takes the free sender holding fewest
    leads          integer     not null default 0,
    primary key (campaign_id, sender_id)
);

-- The campaign's daily_limit counter, on the campaign-local day `day`; apart from campaigns so that leasing
-- never locks (or re-versions) the campaign row.
create table campaign_pacing (
    campaign_id   uuid    primary key,
    day           date    not null,
    leased_on_day integer not null default 0
);
